"""Reads that need no transaction run on the reads engine's autocommit connections
(app.db_reads): the stretch ends with the session's commit, the session's own engine is not
touched meanwhile, and a session without a reads engine still reads in autocommit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import create_engine, create_reads_engine, create_sessionmaker
from app.db_reads import READS_ENGINE, reading_only

XACT = text("SELECT pg_current_xact_id()::text")


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    main, reads = create_engine(database_url), create_reads_engine(database_url)
    yield main, reads
    await main.dispose()
    await reads.dispose()


async def transaction_ids(session: AsyncSession, count: int = 2) -> set[str]:
    """The transaction ids of `count` statements: one id when they share a transaction."""
    return {str(await session.scalar(XACT)) for _ in range(count)}


async def test_a_stretch_runs_in_autocommit_on_the_reads_engine_until_the_commit(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    main, reads = engines
    async with create_sessionmaker(main, reads)() as session:
        await reading_only(session)
        assert (await session.connection()).engine.sync_engine is reads.sync_engine
        assert len(await transaction_ids(session)) == 2  # each statement its own transaction
        assert main.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        await session.commit()
        # After the stretch: the session's own engine, in one transaction again.
        assert (await session.connection()).engine.sync_engine is main.sync_engine
        assert len(await transaction_ids(session)) == 1
        await session.rollback()


async def test_a_stretch_ends_with_a_rollback_too(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    main, reads = engines
    async with create_sessionmaker(main, reads)() as session:
        await reading_only(session)
        await session.scalar(XACT)
        await session.rollback()
        assert len(await transaction_ids(session)) == 1
        assert (await session.connection()).engine.sync_engine is main.sync_engine


async def test_a_reads_connection_handed_back_stays_in_autocommit(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    main, reads = engines
    sessions = create_sessionmaker(main, reads)
    for _ in range(3):  # the pool resets nothing on return; the next stretch reuses it
        async with sessions() as session:
            await reading_only(session)
            assert len(await transaction_ids(session)) == 2
            await session.commit()
    assert reads.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]


async def test_a_stretch_cannot_start_inside_a_transaction(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    main, reads = engines
    async with create_sessionmaker(main, reads)() as session:
        before = await transaction_ids(session, 1)
        with pytest.raises(RuntimeError, match="between transactions"):
            await reading_only(session)
        # The transaction goes on where it was, on the session's own engine.
        assert await transaction_ids(session, 1) == before
        assert (await session.connection()).engine.sync_engine is main.sync_engine
        await session.rollback()


async def test_a_session_without_a_reads_engine_switches_its_own_connection(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    main, reads = engines
    async with create_sessionmaker(main)() as session:
        await reading_only(session)
        assert (await session.connection()).engine.sync_engine is main.sync_engine
        assert len(await transaction_ids(session)) == 2
        await session.commit()
        assert len(await transaction_ids(session)) == 1  # its connection is back in transactions
        await session.rollback()
    assert reads.sync_engine.pool.checkedin() == 0  # type: ignore[attr-defined]


async def test_the_service_routes_its_request_sessions_to_a_reads_engine(app: FastAPI) -> None:
    state = app.state.services
    async with state.sessionmaker() as session:
        await reading_only(session)
        connection = await session.connection()
        assert connection.engine.sync_engine is session.info[READS_ENGINE]
        assert connection.engine.sync_engine is not state.engine.sync_engine
        assert len(await transaction_ids(session)) == 2
        await session.commit()
