"""Database engine, sessions, naming convention and the declarative Base."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from psycopg.adapt import PyFormat
from psycopg.types.array import ListBinaryDumper, ListDumper
from sqlalchemy import ARRAY, MetaData, String, Table, event, literal
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.db_reads import READS_MAX_OVERFLOW, READS_POOL_SIZE, ReadRoutingSession, reads_engine_info
from app.pool_health import ping_idle_connections

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table the service owns."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The table a mapped class maps, for statements built on the table itself (no ORM
    bookkeeping); typed as a Table, which `__table__` is not to a type checker."""
    return cast(Table, model.__table__)


def create_engine(url: str) -> AsyncEngine:
    """An async engine whose pooled connections are pinged when they sat idle
    (app.pool_health)."""
    return _prepared(create_async_engine(url, pool_size=10, max_overflow=10))


def create_reads_engine(url: str) -> AsyncEngine:
    """The engine of reads that need no transaction (app.db_reads): its connections are in
    autocommit from the start, and nothing is rolled back when one is returned to the pool (no
    transaction can be open on it)."""
    engine = create_async_engine(
        url,
        pool_size=READS_POOL_SIZE,
        max_overflow=READS_MAX_OVERFLOW,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
    )
    return _prepared(engine)


def _prepared(engine: AsyncEngine) -> AsyncEngine:
    ping_idle_connections(engine.sync_engine)
    send_lists_in_binary(engine)
    return engine


def create_sessionmaker(
    engine: AsyncEngine, reads: AsyncEngine | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep objects readable after commit; with `reads`, their reading_only
    stretches run on that engine (app.db_reads)."""
    if reads is None:
        return async_sessionmaker(engine, expire_on_commit=False)
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        sync_session_class=ReadRoutingSession,
        info=reads_engine_info(reads),
    )


def send_lists_in_binary(engine: AsyncEngine) -> None:
    """Lists of strings bound as parameters (device ids, Graph request ids) travel in
    PostgreSQL's binary array format on `engine`'s connections; see StringListDumper."""

    @event.listens_for(engine.sync_engine, "connect")
    def _binary_lists(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.adapters.register_dumper(list, StringListDumper)


class StringListDumper(ListDumper):
    """psycopg's list dumper, except that a list of strings bound with `%s` is sent in the
    binary array format. The text format's quoting and escaping of every element costs about
    eight times as much CPU for an array of 200 device ids, a cost paid in each chunk's audit
    events, audience mirror and item bookkeeping. Other lists (numbers, the tuples procrastinate
    sends as records) keep psycopg's own choice."""

    def upgrade(self, obj: list[Any], format: PyFormat) -> Any:
        first = next((item for item in obj if item is not None), None)
        if format is PyFormat.AUTO and isinstance(first, str):
            return ListBinaryDumper(self.cls, self._tx).upgrade(obj, format)
        return super().upgrade(obj, format)


def string_array(values: Sequence[str]) -> Any:
    """Strings as ONE array parameter (for `= ANY(...)` and `unnest`), however many there are:
    `IN (...)` would send one parameter each, and PostgreSQL takes at most 65,535."""
    return literal(list(values), ARRAY(String))
