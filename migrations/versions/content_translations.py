"""content in several languages: translations of campaigns, members' texts and statement versions,
and a campaign's thanks text

Revision ID: content_translations
Revises: apiext_statement_mail
Create Date: 2026-11-30

"""
import sqlalchemy as sa
from alembic import op

revision = "content_translations"
down_revision = "apiext_statement_mail"
branch_labels = None
depends_on = None

TABLES = ("campaigns", "organizations", "statement_versions")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
            if table == "campaigns":
                batch_op.add_column(sa.Column("thanks_text", sa.Text(), nullable=False, server_default=""))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("translations", server_default=None)
            if table == "campaigns":
                batch_op.alter_column("thanks_text", server_default=None)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("translations")
            if table == "campaigns":
                batch_op.drop_column("thanks_text")
