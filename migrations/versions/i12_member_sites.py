"""member sites: own host names, branding edited in the admin, whom a petition addresses, optional location

Revision ID: i12_member_sites
Revises: i9_api_webhooks
Create Date: 2026-11-30

"""
import sqlalchemy as sa
from alembic import op

revision = "i12_member_sites"
down_revision = "i7_statements"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "member_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host"),
    )
    with op.batch_alter_table("member_hosts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_hosts_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_in_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addressee", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("ask_location", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("ask_location")
        batch_op.drop_column("addressee")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("edited_in_admin")
    op.drop_table("member_hosts")
