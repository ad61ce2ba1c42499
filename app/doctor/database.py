"""Doctor's database checks: the database answers, and its schema is at the migrations' head."""

from __future__ import annotations

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.doctor.report import Check
from app.migrate import current_revisions, head_revisions

CONNECT_TIMEOUT_SECONDS = 10
CONNECTION_FIX = (
    "check DATABASE_URL (postgresql+psycopg://user:password@host:port/database) and that"
    " PostgreSQL accepts connections from this host; then run `python -m app migrate`"
)
MIGRATE_FIX = "run `python -m app migrate` in the same environment (same DATABASE_URL)"


def shown_url(url: str) -> str:
    """The URL with its password masked, fit for a terminal or a ticket."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unreadable URL"


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's statement and background link."""
    return str(getattr(exc, "orig", None) or exc)


def database_failed(detail: str, fix: str) -> list[Check]:
    """A failed `database` check and the `schema` check it leaves impossible."""
    return [Check.failed("database", detail, fix), Check.skipped("schema", "needs the database")]


def check_database(url: str) -> list[Check]:
    """`database` (it answers) and `schema` (at head); blocking."""
    try:
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        )
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                current = current_revisions(connection)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        return database_failed(f"{shown_url(url)} did not answer: {_reason(exc)}", CONNECTION_FIX)
    database = Check.ok("database", f"{shown_url(url)} answers")
    expected = head_revisions()
    if current == expected:
        return [database, Check.ok("schema", f"at head ({', '.join(sorted(expected))})")]
    found = ", ".join(sorted(current)) or "no revision (never migrated)"
    detail = f"at {found}, the service expects {', '.join(sorted(expected))}"
    return [database, Check.failed("schema", detail, MIGRATE_FIX)]
