"""Database engine, sessions, naming convention and the declarative Base."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, cast

from psycopg.abc import Buffer
from psycopg.adapt import PyFormat
from psycopg.postgres import types as postgres_types
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
            return StringArrayBinaryDumper(self.cls, self._tx).upgrade(obj, format)
        return super().upgrade(obj, format)


TEXT_OID = postgres_types["text"].oid
_HEADER = struct.Struct("!iiIii").pack  # dimensions, has nulls, element oid, length, lower bound


class StringArrayBinaryDumper(ListBinaryDumper):
    """psycopg's binary array dumper, with a shortcut for the lists the service binds most:
    ASCII strings of one length (device ids, item changes), none of them None. psycopg dumps
    an array element by element in Python, 2.3 ms of CPU for the 10,000 device ids of a large
    create on a 2-vCPU machine, paid once per statement that binds them. Such a list is sent as
    one string, its elements joined with the 4-byte length that precedes each of them (ASCII
    itself below 128): 0.65 ms. Anything else goes through psycopg's own code."""

    def dump(self, obj: list[Any]) -> Buffer | None:
        if obj and self.sub_dumper is not None and set(map(type, obj)) == {str}:
            lengths = set(map(len, obj))
            size = lengths.pop()
            if not lengths and size < 128:
                prefix = "\0\0\0" + chr(size)
                text = prefix + prefix.join(obj)
                if text.isascii():
                    oid = self.sub_dumper.oid or TEXT_OID
                    return _HEADER(1, 0, oid, len(obj), 1) + text.encode()
        return super().dump(obj)


def string_array(values: Sequence[str]) -> Any:
    """Strings as ONE array parameter (for `= ANY(...)` and `unnest`), however many there are:
    `IN (...)` would send one parameter each, and PostgreSQL takes at most 65,535."""
    return literal(list(values), ARRAY(String))
