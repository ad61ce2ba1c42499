"""The audit log's lookup indexes hold chained events only (migration 0014), and every reader
still finds its events through them: the list's filters and drift's last events. A query that
did not imply `seq IS NOT NULL` could not use a partial index, and would read the whole log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import AuditEvent
from app.audit.service import AuditFilters, _list_query
from app.rollouts.drift import last_events_query
from tests.api.helpers import device_ids, rollout_body

PARTIAL = {
    "ix_audit_events_device_ids",
    "ix_audit_events_at",
    "ix_audit_events_action",
    "ix_audit_events_rollout_id_seq",
    "ix_audit_events_ticket_seq",
    "ix_audit_events_actor_seq",
}
FILLER = 3000
TICKET = "CHG0099001"


def engine_of(app: FastAPI) -> AsyncEngine:
    bind: AsyncEngine = app.state.services.sessionmaker.kw["bind"]
    return bind


async def add_filler(engine: AsyncEngine) -> None:
    """FILLER events of other rollouts, tickets, actors and devices, chained at COMMIT as the
    service's are; then fresh statistics, as autovacuum would gather on a real log."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_events (actor, action, outcome, rollout_id, ticket, reason,"
                " graph_request_ids, device_ids, detail)"
                " SELECT 'filler-' || (g % 7), 'graph.updateAudience', 'succeeded',"
                " gen_random_uuid(), 'FILL' || (g % 11), 'filler', '{}',"
                " ARRAY[gen_random_uuid()::text, gen_random_uuid()::text], '{}'"
                " FROM generate_series(1, :count) AS g"
            ),
            {"count": FILLER},
        )
    # In autocommit: ANALYZE inside a transaction that is then rolled back keeps the table's
    # new size but loses its statistics, and the plan would follow whatever an earlier test left.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("ANALYZE audit_events")


def index_names(plan: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in plan:
        yield plan["Index Name"]
    for child in plan.get("Plans", []):
        yield from index_names(child)


async def planned(engine: AsyncEngine, statement: Select[Any]) -> tuple[set[str], int]:
    """The indexes the plan of `statement` reads, and how many rows it returned."""
    compiled = statement.compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    async with engine.connect() as connection:
        found = (
            await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.construct_params()
            )
        ).scalar_one()
        await connection.rollback()
    plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
    return set(index_names(plan)), int(plan["Actual Rows"])


async def test_the_lookup_indexes_hold_chained_events_only_and_the_seq_index_all(
    app: FastAPI,
) -> None:
    async with engine_of(app).connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = 'audit_events'::regclass"
            )
        )
        predicates = {name: where for name, where in rows.all()}
    assert {name for name, where in predicates.items() if where == "(seq IS NOT NULL)"} == PARTIAL
    assert predicates["ix_audit_events_seq"] is None
    assert predicates["pk_audit_events"] is None
    # The model says the same (alembic's comparison of models and migrations ignores WHERE).
    modelled = {
        str(index.name)
        for index in AuditEvent.__table__.indexes
        if index.dialect_options["postgresql"]["where"] is not None
    }
    assert modelled == PARTIAL


@pytest.mark.parametrize(
    ("field", "index"),
    [
        ("rollout_id", "ix_audit_events_rollout_id_seq"),
        ("ticket", "ix_audit_events_ticket_seq"),
        ("actor", "ix_audit_events_actor_seq"),
        ("device_id", "ix_audit_events_device_ids"),
        ("action", "ix_audit_events_action"),
    ],
)
async def test_each_filter_of_the_list_reads_its_partial_index(
    app: FastAPI, client: httpx.AsyncClient, field: str, index: str
) -> None:
    devices = device_ids(3)
    created = await client.post("/v1/rollouts", json=rollout_body(devices=devices, ticket=TICKET))
    assert created.status_code == 201, created.text
    await app.state.services.operations.idle()  # every event of its devices written
    rollout_id = uuid.UUID(created.json()["id"])
    engine = engine_of(app)
    await add_filler(engine)
    async with engine.connect() as connection:
        mine = (
            await connection.execute(
                text("SELECT count(*) FROM audit_events WHERE rollout_id = :r"), {"r": rollout_id}
            )
        ).scalar_one()
    value: Any = {
        "rollout_id": rollout_id,
        "ticket": TICKET,
        "actor": "anonymous",
        "device_id": devices[0],
        "action": "rollout.create",
    }[field]
    read, returned = await planned(engine, _list_query(AuditFilters(**{field: value}), 0, 50))
    assert index in read, f"{field}: the plan read {read or 'no index'}"
    expected = {
        "rollout_id": mine,
        "ticket": mine,
        "actor": mine,
        # The device's enrollment and audience events, requested and succeeded, and the
        # audience change's own pair.
        "device_id": 6,
        "action": 2,
    }[field]
    assert returned == expected


async def test_drifts_last_events_read_a_partial_index(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await client.post("/v1/rollouts", json=rollout_body(devices=device_ids(2)))
    assert created.status_code == 201, created.text
    await app.state.services.operations.idle()
    engine = engine_of(app)
    await add_filler(engine)
    read, returned = await planned(engine, last_events_query(uuid.UUID(created.json()["id"])))
    assert read & PARTIAL, f"the plan read {read or 'no index'}"
    assert returned == 0
