"""execute_alone: one statement as a transaction of its own, in autocommit (one round trip): it is
durable when the call returns, its connection goes back to the pool in transactions again, it
refuses to run inside a transaction, and only an unreachable database is DatabaseUnavailable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine, create_sessionmaker
from app.problems import DatabaseUnavailable
from app.unit_of_work import execute_alone

XACT = text("SELECT pg_current_xact_id()::text")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE IF NOT EXISTS alone_probe (id text PRIMARY KEY)")
        )
    yield engine
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE alone_probe"))
    await engine.dispose()


def autocommit_seen(engine: AsyncEngine) -> list[bool]:
    """Whether the driver connection was in autocommit, for every statement `engine` runs."""
    seen: list[bool] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def record(connection: Any, *_: Any) -> None:
        seen.append(connection.connection.driver_connection.autocommit)

    return seen


async def test_the_statement_runs_in_autocommit_and_is_durable_on_return(
    engine: AsyncEngine,
) -> None:
    sessions = create_sessionmaker(engine)
    seen = autocommit_seen(engine)
    key = str(uuid.uuid4())
    async with sessions() as session:
        await execute_alone(
            session, text("INSERT INTO alone_probe VALUES (:id)").bindparams(id=key)
        )
        assert not session.in_transaction()
        assert seen == [True]
        # Another connection sees it at once: nothing waits for a commit.
        async with engine.connect() as other:
            found = await other.scalar(
                text("SELECT count(*) FROM alone_probe WHERE id = :id"), {"id": key}
            )
        assert found == 1
        # The same session, and the pooled connection, are in transactions again afterwards.
        assert len({await session.scalar(XACT) for _ in range(2)}) == 1
        await session.rollback()
    assert seen[1:] == [False, False, False]


async def test_a_statement_built_once_takes_its_values_as_parameters(
    engine: AsyncEngine,
) -> None:
    statement = text("INSERT INTO alone_probe VALUES (:id)")  # as a module constant would be
    keys = [str(uuid.uuid4()) for _ in range(2)]
    async with create_sessionmaker(engine)() as session:
        for key in keys:
            await execute_alone(session, statement, {"id": key})
    async with engine.connect() as other:
        found = await other.scalars(
            text("SELECT id FROM alone_probe WHERE id = ANY(:ids) ORDER BY id"), {"ids": keys}
        )
        assert list(found) == sorted(keys)


async def test_it_refuses_to_run_inside_a_transaction(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        before = await session.scalar(XACT)
        with pytest.raises(RuntimeError, match="between transactions"):
            await execute_alone(session, text("INSERT INTO alone_probe VALUES ('never')"))
        assert await session.scalar(XACT) == before  # the transaction goes on, unchanged
        await session.rollback()
    async with engine.connect() as other:
        assert await other.scalar(text("SELECT count(*) FROM alone_probe WHERE id = 'never'")) == 0


async def test_a_value_the_database_refuses_is_raised_as_it_is(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        with pytest.raises(DataError) as raised:
            await execute_alone(
                session, text("INSERT INTO alone_probe VALUES (:id)").bindparams(id="a\x00b")
            )
        assert not isinstance(raised.value, DatabaseUnavailable)
        assert not session.in_transaction()


async def test_an_unreachable_database_is_database_unavailable() -> None:
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    try:
        async with create_sessionmaker(unreachable)() as session:
            with pytest.raises(DatabaseUnavailable):
                await execute_alone(session, text("SELECT 1"))
    finally:
        await unreachable.dispose()
