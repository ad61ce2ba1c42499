"""Reads that need no transaction, run on a small pool of connections kept in autocommit.

A request's session normally works on the main engine's connections, in transactions. A read
that needs no transaction (one statement, or statements that need not see one snapshot) is
one round trip in autocommit instead of three (BEGIN, the statement, COMMIT). Switching a pooled
connection to autocommit for that stretch and back when it is returned costs two driver calls
per stretch; the reads engine's connections are in autocommit from the start, so a session
routed to them (reading_only) pays neither. A process that never reads this way (a worker)
never opens one of these connections: the pool connects on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

READS_POOL_SIZE = 4
READS_MAX_OVERFLOW = 2
"""At most 6 connections for reads per API process, on top of the main engine's 20."""

READS_ENGINE = "autopatch_reads_engine"  # Session.info: the engine reading_only routes to
_READING_ONLY = "autopatch_reading_only"  # Session.info: set until the stretch's transaction ends


class ReadRoutingSession(Session):
    """A session that runs its reading_only stretches on the reads engine
    (`info[READS_ENGINE]`), and everything else on its own bind."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        if self.info.get(_READING_ONLY):
            return self.info[READS_ENGINE]
        return super().get_bind(mapper, clause=clause, **kw)


@event.listens_for(ReadRoutingSession, "after_transaction_end")
def _end_reading_only(session: Session, transaction: SessionTransaction) -> None:
    """The stretch ends with its transaction's commit or rollback."""
    if transaction.parent is None:
        session.info.pop(_READING_ONLY, None)


async def reading_only(session: AsyncSession) -> None:
    """Run the session's statements until its next commit or rollback on a connection in
    autocommit: each read is then one round trip, without the BEGIN and COMMIT of a transaction
    around it. Only for reads that need no transaction (one statement, or statements that need
    not see one snapshot); nothing may be written in that stretch. The session must be between
    transactions. Sessions without a reads engine switch their own connection instead."""
    if session.in_transaction():
        raise RuntimeError("reading_only starts between transactions, not inside one")
    if READS_ENGINE in session.info:
        session.info[_READING_ONLY] = True
        await session.connection()
    else:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def reads_engine_info(reads: AsyncEngine) -> dict[str, Any]:
    """The Session.info that routes a ReadRoutingSession's reading_only stretches to `reads`."""
    return {READS_ENGINE: reads.sync_engine}
