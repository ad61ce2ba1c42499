"""The embedded PostgreSQL (pgserver) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) a real PostgreSQL under ``data_dir/postgres``; return its SQLAlchemy URL."""
    import pgserver

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
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
    """Stop the embedded server under ``data_dir`` if this process started it."""
    server = _servers.pop((data_dir / "postgres").resolve(), None)
    if server is not None:
        server.cleanup()
