"""Pooled connections are checked before use only when they sat idle: a connection handed
back moments ago is trusted, one that waited in the pool is pinged first."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

PING_IDLE_AFTER_SECONDS = 1.0
"""A connection idle in the pool for longer than this is pinged before it is handed out (and
replaced if the ping finds it dead). One used within this is handed out as it is: a ping costs
a round trip, and a busy service would pay one per checkout for nothing. Should the database
restart inside that window, the statement fails, the request answers 503 (nothing was sent to
Graph on its account), and every pooled connection is replaced at its next checkout."""

_CHECKED_IN_AT = "autopatch_checked_in_at"


def ping_idle_connections(engine: Engine) -> None:
    """Install the check on `engine`'s pool (the sync engine under an AsyncEngine)."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)  # None: new (or renewed) connection
        if checked_in_at is None or time.monotonic() - checked_in_at <= PING_IDLE_AFTER_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool closes this connection and hands out a fresh one instead.
                raise exc.DisconnectionError("idle connection found dead by its ping") from error
            raise
