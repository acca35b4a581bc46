"""supporter mail owed by database rows; unsubscribes scoped to a member or the coalition; the
tally's watermark index on actions.confirmed_at

Revision ID: i8_mail_outbox
Revises: i9_api_webhooks
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "i8_mail_outbox"
down_revision = "i11_staff_screens"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'sending')")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "supporter_mails",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("action_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name=op.f("ck_supporter_mails_status")
        ),
        sa.ForeignKeyConstraint(
            ["action_id"], ["actions.id"], name=op.f("fk_supporter_mails_action_id_actions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporter_mails")),
        sa.UniqueConstraint("action_id", "kind", name="uq_supporter_mails_action_kind"),
    )
    op.create_index(
        "ix_supporter_mails_claim",
        "supporter_mails",
        ["next_attempt_at", "id"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    # Confirmations owed before this revision: from now on the database says so.
    op.execute(
        "INSERT INTO supporter_mails (action_id, kind, status, attempts, next_attempt_at, last_error, created_at) "
        "SELECT id, 'confirm', 'queued', 0, created_at, '', created_at FROM actions "
        "WHERE status = 'pending' AND confirmation_sent_at IS NULL"
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("confirmation_sent_at")
        batch_op.create_index("ix_actions_confirmed_at", ["confirmed_at"], unique=False)

    # Unsubscribes gain a scope: one member (org_id) or the whole coalition (NULL). Those recorded
    # before had no scope; they keep the broadest meaning.
    rows = op.get_bind().execute(sa.text("SELECT email_normalized, created_at FROM suppressions")).all()
    op.drop_table("suppressions")
    suppressions = op.create_table(
        "suppressions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_suppressions_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
    )
    op.create_index("ix_suppressions_email_normalized", "suppressions", ["email_normalized"], unique=False)
    if rows:
        op.bulk_insert(suppressions, [{"email_normalized": e, "org_id": None, "created_at": at} for e, at in rows])


def downgrade():
    rows = (
        op.get_bind()
        .execute(sa.text("SELECT email_normalized, MIN(created_at) FROM suppressions GROUP BY email_normalized"))
        .all()
    )
    op.drop_table("suppressions")
    suppressions = op.create_table(
        "suppressions",
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email_normalized", name=op.f("pk_suppressions")),
    )
    if rows:
        op.bulk_insert(suppressions, [{"email_normalized": e, "created_at": at} for e, at in rows])
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_confirmed_at")
        batch_op.add_column(sa.Column("confirmation_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_supporter_mails_claim", table_name="supporter_mails")
    op.drop_table("supporter_mails")
