"""the ticker's shared state (one row per periodic task) and a lease on exports

Revision ID: i8_ticker
Revises: 0006
Create Date: 2026-11-29

"""
import sqlalchemy as sa
from alembic import op

revision = "i8_ticker"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "periodic_tasks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("running_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_tasks")),
    )
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
    op.drop_table("periodic_tasks")
