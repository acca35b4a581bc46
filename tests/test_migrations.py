"""The schema comes only from migrations: after `upgrade`, they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chorus.extensions import db
from chorus.models.actions import SEARCH_INDEX


def test_migrations_create_exactly_the_schema_the_models_describe(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [
            d
            for d in compare_metadata(context, db.metadata)
            if d[0] != "remove_table" or d[1].name != "alembic_version"
            if d[0] != "remove_index" or d[1].name != SEARCH_INDEX  # PostgreSQL only, by migration
        ]
    assert differences == []
