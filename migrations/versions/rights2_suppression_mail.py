"""supporter_mails.suppression_id: the "manage my data" link mailed to an address known only by its
unsubscribe (a row names an action, a sign-on or an unsubscribe: exactly one)

Revision ID: rights2_suppression_mail
Revises: content_translations
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "rights2_suppression_mail"
down_revision = "content_translations"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ONE_RECIPIENT = (
    "(CASE WHEN action_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN sign_on_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN suppression_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade():
    with op.batch_alter_table("supporter_mails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppression_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_supporter_mails_suppression_id_suppressions"),
            "suppressions",
            ["suppression_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint("uq_supporter_mails_suppression_kind", ["suppression_id", "kind", "ref"])
        batch_op.drop_constraint(op.f("ck_supporter_mails_one_recipient"), type_="check")
        batch_op.create_check_constraint(op.f("ck_supporter_mails_one_recipient"), ONE_RECIPIENT)


def downgrade():
    op.execute("DELETE FROM supporter_mails WHERE suppression_id IS NOT NULL")
    with op.batch_alter_table("supporter_mails", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_supporter_mails_one_recipient"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_supporter_mails_one_recipient"), "(action_id IS NULL) != (sign_on_id IS NULL)"
        )
        batch_op.drop_constraint("uq_supporter_mails_suppression_kind", type_="unique")
        batch_op.drop_constraint(op.f("fk_supporter_mails_suppression_id_suppressions"), type_="foreignkey")
        batch_op.drop_column("suppression_id")
