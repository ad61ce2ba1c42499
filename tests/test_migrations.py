"""The migrations produce exactly the tables the models describe, and go down again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import app.models  # noqa: F401
from app.db import Base
from app.migrate import alembic_config, owned_by_the_service, upgrade_to_head
from tests.db_server import fresh_database


def test_models_and_migrations_agree_and_downgrade_cleanly() -> None:
    with fresh_database() as url:
        upgrade_to_head(url)
        engine = create_engine(url)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": owned_by_the_service}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        command.downgrade(alembic_config(url), "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
        engine.dispose()
