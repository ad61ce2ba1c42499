"""The unit of work: the one place where the service's database work is committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from app.idempotency.claim import mark_effects
from app.problems import DatabaseUnavailable, ProblemError

if TYPE_CHECKING:
    from app.review.dry_run import DryRun


def is_connection_failure(exc: BaseException) -> bool:
    """True when the database could not be reached or dropped the connection.

    Only these are a 503: a value the database refused (psycopg's DataError, an IntegrityError,
    a ProgrammingError) is a fault of ours, and a 503 would make callers retry it forever.
    """
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _as_unrecorded(exc: DBAPIError) -> Exception:
    """What a failed write raises: DatabaseUnavailable if the database could not be reached,
    else the database's own error as it is."""
    if is_connection_failure(exc):
        return DatabaseUnavailable("The change could not be recorded in the database.")
    return exc


class UnitOfWork:
    """Wraps a session; `commit()` makes what was written durable or raises a 503 problem.

    Requests commit once at the end (the session dependency). Around a Graph write the audit
    recorder commits twice more — the intent before Graph is called, the outcome after — so that a
    crash in between leaves a `requested` event for reconciliation instead of nothing.
    """

    def __init__(self, session: AsyncSession, dry_run: DryRun | None = None) -> None:
        self.session = session
        self._after_commit: list[Callable[[], object]] = []
        # A dry run (change review): commits only flush, and the whole is rolled back at the end.
        self.dry_run = dry_run

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the next commit has succeeded (e.g. start work it recorded)."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        """Commit; on failure roll back, and raise DatabaseUnavailable if it was unreachable.

        Any other database error is re-raised as it is (a 500 that is logged, not a false 503).
        """
        try:
            if self.dry_run is not None:
                await self.session.flush()  # the database's own checks run; nothing is kept
                self._after_commit.clear()
                return
            await mark_effects(self.session)
            await self.session.commit()
        except ProblemError:
            await self.rollback()
            raise
        except DBAPIError as exc:
            await self.rollback()
            raise _as_unrecorded(exc) from exc
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        """Discard everything not yet committed, and the work that waited on it."""
        self._after_commit.clear()
        await self.session.rollback()


@asynccontextmanager
async def committed(session: AsyncSession) -> AsyncIterator[UnitOfWork]:
    """A unit of work on `session` that commits when the block succeeds, else rolls back."""
    uow = UnitOfWork(session)
    try:
        yield uow
        await uow.commit()
    except BaseException:
        await uow.rollback()
        raise


async def execute_alone(
    session: AsyncSession,
    statement: Executable,
    params: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Run one statement as a transaction of its own, durable when this returns: in autocommit,
    one round trip instead of three (BEGIN, the statement, COMMIT). PostgreSQL runs a single
    statement, WITH parts included, all or nothing. The session must be between transactions; a
    connection failure is a DatabaseUnavailable, as a failed commit's."""
    if session.in_transaction():
        raise RuntimeError("execute_alone runs between transactions, not inside one")
    try:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await session.execute(statement, params, execution_options=options)
    except DBAPIError as exc:
        await session.rollback()
        raise _as_unrecorded(exc) from exc
    await session.commit()  # ends the stretch: the connection goes back as it came
