"""Bring a database's schema to alembic head, and tell whether it is there."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

VERSION_TABLE = "alembic_version"  # alembic's default; migrations/env.py keeps it


def migrations_dir() -> Path:
    """The alembic scripts: MIGRATIONS_DIR, else beside the source tree, else ./migrations."""
    candidates = [
        Path(os.environ["MIGRATIONS_DIR"]) if os.environ.get("MIGRATIONS_DIR") else None,
        Path(__file__).resolve().parents[1] / "migrations",
        Path.cwd() / "migrations",
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic migrations not found; set MIGRATIONS_DIR")


def alembic_config(database_url: str) -> Config:
    """An alembic Config for ``database_url`` that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration (blocking; run it in a thread from async code)."""
    command.upgrade(alembic_config(database_url), "head")


def head_revisions(database_url: str | None = None) -> set[str]:
    """The revisions the code expects every database to be at, read from the scripts once per
    process (they do not depend on `database_url`, which callers may still pass)."""
    return set(_script_heads(migrations_dir()))


@lru_cache
def _script_heads(scripts: Path) -> frozenset[str]:
    return frozenset(ScriptDirectory(str(scripts)).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database says it is at, read from alembic's version table directly
    (alembic's MigrationContext would log two INFO lines on every readiness probe)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def owned_by_the_service(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's include_name: the job queue's tables are procrastinate's, not our models'."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))
