"""Migration 0007 chains the events already in the log (in id order), and goes down to 0006's
append-only table again."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from app.audit.models import GENESIS_HASH
from app.migrate import alembic_config
from tests.db_server import fresh_database

INSERT = (
    "INSERT INTO audit_events (at, actor, action, outcome, graph_request_ids, device_ids, detail)"
    " VALUES (:at, :actor, 'test.before', 'succeeded', '{}', :devices, CAST(:detail AS jsonb))"
)
RECOMPUTED = """
    SELECT id, seq, previous_hash, hash, audit_event_digest(
        id, at, actor, action, outcome, rollout_id, operation_id, intent_id, ticket, reason,
        request_id, graph_request_ids, device_ids, detail, seq, previous_hash) AS digest
    FROM audit_events ORDER BY seq
"""


def insert_events(connection: Connection, count: int) -> None:
    for n in range(count):
        connection.execute(
            text(INSERT),
            {
                "at": f"2026-11-0{n % 9 + 1}T08:00:00.{n:06d}Z",
                "actor": f"actor-{n}",
                "devices": [f"device-{n}", f"device-{n + 1}"],
                "detail": f'{{"n": {n}, "ratio": 0.5}}',
            },
        )


def assert_chained(connection: Connection, count: int) -> None:
    rows = connection.execute(text(RECOMPUTED)).all()
    assert [row.seq for row in rows] == list(range(1, count + 1))
    assert [row.id for row in rows] == sorted(row.id for row in rows)
    assert [row.previous_hash for row in rows] == [GENESIS_HASH] + [r.hash for r in rows[:-1]]
    assert all(row.digest == row.hash for row in rows)
    head = connection.execute(text("SELECT seq, hash FROM audit_chain_head")).one()
    assert tuple(head) == (count, rows[-1].hash)


def test_existing_events_are_chained_in_id_order_and_the_downgrade_restores_0006() -> None:
    with fresh_database() as url:
        config = alembic_config(url)
        command.upgrade(config, "0006")
        engine = create_engine(url)
        with engine.begin() as connection:
            insert_events(connection, 7)

        command.upgrade(config, "0007")
        with engine.begin() as connection:
            assert_chained(connection, 7)
            insert_events(connection, 1)
        with engine.begin() as connection:
            assert_chained(connection, 8)

        command.downgrade(config, "0006")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("audit_events")}
            assert not {"seq", "hash", "previous_hash"} & columns
            assert not inspect(connection).has_table("audit_chain_head")
            with pytest.raises(DBAPIError, match="append-only: UPDATE refused"):
                connection.execute(text("UPDATE audit_events SET actor = 'mallory'"))
            connection.rollback()
            functions = connection.execute(
                text("SELECT proname FROM pg_proc WHERE proname LIKE 'audit%' ORDER BY 1")
            ).scalars()
            assert list(functions) == ["audit_events_refuse_change"]

        command.upgrade(config, "0007")
        with engine.begin() as connection:
            assert_chained(connection, 8)
        engine.dispose()


def test_an_empty_log_gets_a_head_at_genesis() -> None:
    with fresh_database() as url:
        command.upgrade(alembic_config(url), "0007")
        engine = create_engine(url)
        with engine.connect() as connection:
            head = connection.execute(text("SELECT id, seq, hash FROM audit_chain_head")).all()
            assert head == [(1, 0, GENESIS_HASH)]
        engine.dispose()
