"""staff screens at a million actions: a (created_at, id) index for newest-first pages, and on
PostgreSQL a trigram index (pg_trgm) for the supporter search

Revision ID: i11_staff_screens
Revises: i9_api_webhooks
Create Date: 2026-11-30

"""
from alembic import op

revision = "i11_staff_screens"
down_revision = "i9_api_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index("ix_actions_created", ["created_at", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_actions_search ON actions USING gin "
            "(lower(first_name || ' ' || last_name || ' ' || email) gin_trgm_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_actions_search")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_created")
