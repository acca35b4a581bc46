"""ix_actions_created covers org_id on PostgreSQL: (created_at, id) INCLUDE (org_id), replacing the
index without it, so the supporter list's walk to a deep page is an index-only scan (issue 11, goal 6)

Replaced, not added beside it: signing updates one index, as before. The new index is built under a
temporary name before the old one is dropped, so reads keep their index while it builds (signing
waits: a few seconds at a million actions). Not CONCURRENTLY: `chorus db upgrade` holds its start-up
advisory lock on a connection inside a transaction, and a concurrent build waits for that transaction
to end, i.e. forever. SQLite has no INCLUDE: nothing changes there.

An index-only scan skips the table only for pages the visibility map marks all-visible, which is
autovacuum's work; by default it visits an insert-only table once 20 % of it is new, so at a million
actions the newest 200,000 (exactly what a deep page walks first) would still be read from the table.
`actions` is vacuumed after 1 % new rows instead (cheap: new pages only).

Revision ID: cover_actions_created
Revises: stafflang_staff_language
Create Date: 2026-11-30

"""

from alembic import op

revision = "cover_actions_created"
down_revision = "stafflang_staff_language"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _replace(include: str) -> None:
    op.execute(f"CREATE INDEX ix_actions_created_new ON actions (created_at, id){include}")
    op.execute("DROP INDEX ix_actions_created")
    op.execute("ALTER INDEX ix_actions_created_new RENAME TO ix_actions_created")


def upgrade():
    if _postgresql():
        _replace(" INCLUDE (org_id)")
        op.execute("ALTER TABLE actions SET (autovacuum_vacuum_insert_scale_factor = 0.01)")


def downgrade():
    if _postgresql():
        op.execute("ALTER TABLE actions RESET (autovacuum_vacuum_insert_scale_factor)")
        _replace("")
