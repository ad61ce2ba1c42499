"""`python -m app migrate` brings a production database (DATABASE_URL) to head."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine

from app.migrate import current_revisions, head_revisions
from tests.db_server import REPO, fresh_database


def test_migrate_command_brings_an_empty_database_to_head() -> None:
    with fresh_database() as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            assert current_revisions(connection) == set()
        result = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            cwd=REPO,
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "database schema is at head" in result.stdout
        with engine.connect() as connection:
            assert current_revisions(connection) == head_revisions(url)
        engine.dispose()
