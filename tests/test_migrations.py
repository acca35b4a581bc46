"""The schema comes only from migrations: after `upgrade`, they must match the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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


def test_migrations_give_indexes_the_columns_the_models_include(app):
    """Alembic's comparison ignores PostgreSQL's INCLUDE columns (ix_actions_created covers org_id)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("INCLUDE is PostgreSQL's")
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        reflected = {
            i["name"]: i["dialect_options"].get("postgresql_include", []) for i in inspector.get_indexes(table.name)
        }
        for index in table.indexes:
            assert reflected[index.name] == list(index.dialect_options["postgresql"]["include"] or []), index.name
