"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lookout.db import make_engine
from lookout.models import Base


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
    assert set(Base.metadata.tables) <= tables


def test_unique_source_ids_are_enforced_by_the_database(database_url):
    engine = make_engine(database_url)
    inspector = sa.inspect(engine)
    for table in ("cameras", "sequences", "images"):
        uniques = [set(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        assert {"project_id", "source", "source_id"} in uniques, table
    engine.dispose()
