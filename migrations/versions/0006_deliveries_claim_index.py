"""a partial index for claiming deliveries (only unfinished rows), replacing (status, next_attempt_at)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'sending')")


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_claim", ["next_attempt_at", "id"], postgresql_where=UNFINISHED, sqlite_where=UNFINISHED
        )


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_claim")
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
