"""index actions by campaign and date (dashboards over time, newest-first supporter lists)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index("ix_actions_campaign_created", ["campaign_id", "created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_campaign_created")
