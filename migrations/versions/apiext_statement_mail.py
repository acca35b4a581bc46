"""campaigns.updated_at (the API's modified_date); statement mail owed by supporter_mails rows:
a row names an action or an organization's sign-on (with `ref`, the version of a new-version notice);
webhook events for sign-ons

Revision ID: apiext_statement_mail
Revises: i10_supporter_data
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "apiext_statement_mail"
down_revision = "i10_supporter_data"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE campaigns SET updated_at = created_at")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table("supporter_mails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_on_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("ref", sa.Integer(), nullable=False, server_default="0"))
        batch_op.alter_column("action_id", existing_type=BIG_ID, nullable=True)
        batch_op.create_foreign_key(
            op.f("fk_supporter_mails_sign_on_id_sign_ons"), "sign_ons", ["sign_on_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint("uq_supporter_mails_sign_on_kind", ["sign_on_id", "kind", "ref"])
        batch_op.create_check_constraint(
            op.f("ck_supporter_mails_one_recipient"), "(action_id IS NULL) != (sign_on_id IS NULL)"
        )
    with op.batch_alter_table("supporter_mails", schema=None) as batch_op:
        batch_op.alter_column("ref", existing_type=sa.Integer(), server_default=None)

    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_on_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_webhook_events_sign_on_id_sign_ons"), "sign_ons", ["sign_on_id"], ["id"], ondelete="CASCADE"
        )


def downgrade():
    op.execute("DELETE FROM webhook_events WHERE sign_on_id IS NOT NULL")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_webhook_events_sign_on_id_sign_ons"), type_="foreignkey")
        batch_op.drop_column("sign_on_id")
    op.execute("DELETE FROM supporter_mails WHERE sign_on_id IS NOT NULL")
    with op.batch_alter_table("supporter_mails", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_supporter_mails_one_recipient"), type_="check")
        batch_op.drop_constraint("uq_supporter_mails_sign_on_kind", type_="unique")
        batch_op.drop_constraint(op.f("fk_supporter_mails_sign_on_id_sign_ons"), type_="foreignkey")
        batch_op.alter_column("action_id", existing_type=BIG_ID, nullable=False)
        batch_op.drop_column("ref")
        batch_op.drop_column("sign_on_id")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
