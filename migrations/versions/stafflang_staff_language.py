"""users.language and invitations.language: the language of staff accounts, their admin and their mails

Revision ID: stafflang_staff_language
Revises: rights2_suppression_mail
Create Date: 2026-11-30

"""

import sqlalchemy as sa
from alembic import op

revision = "stafflang_staff_language"
down_revision = "rights2_suppression_mail"
branch_labels = None
depends_on = None

TABLES = ("users", "invitations")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("language", sa.String(length=5), server_default="en", nullable=False))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("language")
