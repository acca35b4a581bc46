"""deliveries.claim_token: the claim that holds a delivery while it is sent

Revision ID: i11_delivery_claim_token
Revises: i8_ticker
Create Date: 2026-11-29

"""
import sqlalchemy as sa
from alembic import op

revision = "i11_delivery_claim_token"
down_revision = "i8_ticker"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
