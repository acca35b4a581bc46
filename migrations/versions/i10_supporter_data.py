"""supporters first: consent records (replacing action_shares), an audit log, the keyed hash that
erased actions keep, and per-campaign retention periods

Revision ID: i10_supporter_data
Revises: i9_api_webhooks
Create Date: 2026-11-30

"""
import sqlalchemy as sa
from alembic import op

revision = "i10_supporter_data"
down_revision = "i12_member_sites"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "consents",
        sa.Column("action_id", BigId, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('share', 'updates')", name=op.f("ck_consents_purpose")),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_consents_action_id_actions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_consents_org_id_organizations")),
        sa.PrimaryKeyConstraint("action_id", "org_id", "purpose", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_org_id"), ["org_id"], unique=False)
    # Earlier shares become "share" consents; the text they were shown was not kept.
    op.execute(
        "INSERT INTO consents (action_id, org_id, purpose, text, language, granted_at) "
        "SELECT s.action_id, s.org_id, 'share', '', a.language, a.created_at "
        "FROM action_shares s JOIN actions a ON a.id = s.action_id"
    )
    with op.batch_alter_table("action_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_shares_org_id"))
    op.drop_table("action_shares")

    op.create_table(
        "audit_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_actions_campaign_email_hash", ["campaign_id", "email_hash"])
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unconfirmed_retention_days", sa.Integer(), nullable=False, server_default="30"))
        batch_op.add_column(sa.Column("closed_retention_days", sa.Integer(), nullable=False, server_default="365"))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("unconfirmed_retention_days", server_default=None)
        batch_op.alter_column("closed_retention_days", server_default=None)


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closed_retention_days")
        batch_op.drop_column("unconfirmed_retention_days")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_actions_campaign_email_hash", type_="unique")
        batch_op.drop_column("email_hash")
    op.drop_table("audit_entries")
    op.create_table(
        "action_shares",
        sa.Column("action_id", BigId, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_action_shares_action_id_actions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_action_shares_org_id_organizations")),
        sa.PrimaryKeyConstraint("action_id", "org_id", name=op.f("pk_action_shares")),
    )
    with op.batch_alter_table("action_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_shares_org_id"), ["org_id"], unique=False)
    op.execute(
        "INSERT INTO action_shares (action_id, org_id) SELECT action_id, org_id FROM consents "
        "WHERE purpose = 'share' AND withdrawn_at IS NULL"
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_org_id"))
    op.drop_table("consents")
