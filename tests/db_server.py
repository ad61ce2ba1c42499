"""The PostgreSQL server tests run against: TEST_DATABASE_URL, else an embedded one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.embedded_db import start_embedded_postgres

REPO = Path(__file__).resolve().parents[1]


def server_url() -> str:
    """A URL of a database on the server the tests may use (never the one they create)."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    return start_embedded_postgres(REPO / ".data" / "test")


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create a uniquely named database on the test server, yield its URL, then drop it."""
    admin_url = make_url(server_url())
    name = f"autopatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
