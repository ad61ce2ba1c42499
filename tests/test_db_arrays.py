"""Lists of strings bound as parameters travel in PostgreSQL's binary array format
(app.db.StringListDumper) and mean exactly what they meant in the text format: order, NULL
elements, empty lists, character-varying columns, `= ANY(...)` and `unnest`; other lists keep
psycopg's own format. Lists of ASCII strings of one length (device ids) take a shortcut
(app.db.StringArrayBinaryDumper) that must send the very bytes psycopg's dumper would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import func, literal, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import StringArrayBinaryDumper, create_engine, string_array


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["device-1", None, "device-2"], pq.Format.BINARY),
        ([None, "device-1"], pq.Format.BINARY),
        ([1, 2, 3], pq.Format.TEXT),
        ([(1, "a"), (2, "b")], pq.Format.TEXT),
        ([], pq.Format.TEXT),
    ],
)
async def test_the_service_engine_sends_lists_of_strings_in_the_binary_format(
    engine: AsyncEngine, value: list[object], expected: pq.Format
) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        transformer = Transformer(raw.driver_connection)  # type: ignore[arg-type]
        assert transformer.get_dumper(value, PyFormat.AUTO).format == expected


async def test_a_list_of_records_still_binds_as_procrastinate_sends_them(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("CREATE TYPE pg_temp.pair AS (n integer, s text)"))
        found = await connection.scalar(
            text("SELECT array_agg(r.s ORDER BY r.n) FROM unnest(CAST(:rows AS pg_temp.pair[])) r"),
            {"rows": [(2, "b"), (1, "a")]},
        )
    assert found == ["a", "b"]


@pytest.mark.parametrize(
    "values",
    [[], ["d1"], ["d-2", "d-1", "d-2"], ["x", None], ['quote"d', "back\\slash", "{brace}", "é,ü"]],
)
async def test_a_list_of_strings_reaches_a_varchar_array_column_unchanged(
    engine: AsyncEngine, values: list[str | None]
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("CREATE TEMP TABLE arrays (ids varchar(64)[])"))
        await connection.execute(text("INSERT INTO arrays VALUES (:ids)"), {"ids": values})
        stored = (await connection.execute(text("SELECT ids FROM arrays"))).scalar_one()
        assert stored == values


async def test_string_array_serves_any_and_unnest(engine: AsyncEngine) -> None:
    ids = [f"device-{n}" for n in range(300)]
    async with engine.connect() as connection:
        hit = await connection.scalar(select(literal("device-299") == func.any(string_array(ids))))
        miss = await connection.scalar(select(literal("device-300") == func.any(string_array(ids))))
        rows = await connection.execute(select(func.unnest(string_array(ids))))
        empty = await connection.scalar(select(func.cardinality(string_array([]))))
    assert (hit, miss, empty) == (True, False, 0)
    assert [row[0] for row in rows] == ids


async def test_a_list_of_integers_keeps_its_values(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT array_agg(n ORDER BY n) FROM unnest(CAST(:seqs AS bigint[])) AS n"),
            {"seqs": [3, 1, 2**40, -5]},
        )
    assert found == [-5, 1, 3, 2**40]


SHORTCUT_CASES = [  # (the list, whether it takes the shortcut)
    ([f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(1000)], True),  # device ids
    (["addMember"] * 3, True),
    (["d" * 127, "e" * 127], True),  # the longest elements whose length prefix is ASCII
    (["d" * 128, "e" * 128], False),
    (["short", "longer"], False),  # lengths differ
    (["caf\u00e9", "cafe!"], False),  # same length in characters, not in bytes
    (["device-1", None], False),
    (["nul\x00", "abcd"], True),
    (["one"], True),
]


@pytest.mark.parametrize(("values", "shortcut"), SHORTCUT_CASES)
async def test_the_shortcut_sends_the_bytes_psycopg_would(
    engine: AsyncEngine,
    values: list[str | None],
    shortcut: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        dumper = Transformer(raw.driver_connection).get_dumper(values, PyFormat.AUTO)  # type: ignore[arg-type]
    assert isinstance(dumper, StringArrayBinaryDumper)
    expected = ListBinaryDumper.dump(dumper, values)
    # psycopg's element-by-element loop, which the shortcut exists to skip
    looped: list[object] = []
    original = ListBinaryDumper._dump_list

    def counted(self: ListBinaryDumper, *args: Any) -> int:
        looped.append(args)
        return original(self, *args)

    monkeypatch.setattr(ListBinaryDumper, "_dump_list", counted)

    assert dumper.dump(values) == expected
    assert (not looped) is shortcut


@pytest.mark.parametrize("values", [v for v, _ in SHORTCUT_CASES if "nul\x00" not in v])
async def test_lists_that_take_the_shortcut_or_not_reach_the_database_unchanged(
    engine: AsyncEngine, values: list[str | None]
) -> None:
    async with engine.connect() as connection:
        found = await connection.scalar(text("SELECT CAST(:ids AS varchar[])"), {"ids": values})
    assert found == values


async def test_a_nul_character_is_refused_by_the_database_as_without_the_shortcut(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        with pytest.raises(DataError, match="0x00"):
            await connection.scalar(
                text("SELECT CAST(:ids AS text[])"), {"ids": ["nul\x00", "abcd"]}
            )
