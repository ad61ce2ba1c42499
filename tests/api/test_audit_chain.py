"""The audit log's hash chain: seq in commit order, hashes by the documented recipe, the
database refusing UPDATE, DELETE and TRUNCATE, and GET /v1/audit/verify naming exactly the
event that was changed, removed or slipped in behind the triggers.

Events are written by real requests, or through AuditRecorder in transactions the test
controls (to choose the order in which they commit). "Behind the triggers" is a superuser's
`SET LOCAL session_replication_role = replica` on the test database: the only way to change
an event, and the thing verification exists to catch."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.audit.models import GENESIS_HASH, AuditEvent
from app.audit.recorder import AuditRecorder
from app.audit.verify import verify_chain
from app.change_context import ChangeContext
from app.db import create_sessionmaker
from app.settings import Settings
from app.unit_of_work import UnitOfWork
from tests.api.helpers import device_ids, rollout_body

CONTEXT = ChangeContext(actor="svc-test", ticket="CHG0001", reason="chain test", request_id="r1")


# --- the recipe of the API guide, as an auditor outside the service would run it -------------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"


def documented_recipe() -> Callable[[dict[str, Any]], str]:
    """`event_hash` from the Python example in the API guide's "Recomputing a hash yourself"."""
    section = GUIDE.read_text(encoding="utf-8").split("#### Recomputing a hash yourself", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    recipe: Callable[[dict[str, Any]], str] = namespace["event_hash"]
    return recipe


recipe_hash = documented_recipe()


# --- helpers ---------------------------------------------------------------------------------


async def record(app: FastAPI, count: int, **fields: Any) -> list[int]:
    """`count` events through AuditRecorder, committed together; their ids."""
    async with app.state.services.sessionmaker() as session:
        audit = AuditRecorder(UnitOfWork(session), CONTEXT)
        events = [
            audit.record(action="test.chain", outcome="succeeded", detail={"n": n}, **fields)
            for n in range(count)
        ]
        await session.commit()
        return [event.id for event in events]


async def chain(app: FastAPI) -> list[AuditEvent]:
    """Every event, in seq order (unchained ones last)."""
    async with app.state.services.sessionmaker() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq.nulls_last(), AuditEvent.id)
        return list((await session.execute(query)).scalars())


async def behind_the_triggers(app: FastAPI, statement: str, **params: Any) -> None:
    """Run `statement` as a superuser would to get around the triggers."""
    async with app.state.services.sessionmaker() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(text(statement), params)
        await session.commit()


async def verify(client: httpx.AsyncClient, **params: int) -> dict[str, Any]:
    response = await client.get("/v1/audit/verify", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(client: httpx.AsyncClient, limit: int = 500) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/audit/events", params=params)).json()
        items += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items


def assert_linked(rows: list[AuditEvent]) -> None:
    """seq 1…n without gaps, each event linked to the one before."""
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert [row.previous_hash for row in rows] == [GENESIS_HASH] + [r.hash for r in rows[:-1]]
    assert len({row.hash for row in rows}) == len(rows)


@pytest.fixture
async def wide_sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine with room for 30 transactions at once (the app's has 20)."""
    engine = create_async_engine(settings.database_url or "", pool_size=30, max_overflow=0)
    yield create_sessionmaker(engine)
    await engine.dispose()


# --- events written by the service -------------------------------------------------------------


async def test_events_of_real_requests_are_chained_by_the_documented_recipe(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await client.post("/v1/rollouts", json={**rollout_body(), "devices": device_ids(3)})
    assert created.status_code == 201, created.text
    await app.state.services.operations.idle()
    paused = await client.post(f"/v1/rollouts/{created.json()['id']}/pause", json={})
    assert paused.status_code == 200, paused.text

    rows = await chain(app)
    items = await listed(client, limit=2)

    assert len(rows) >= 6
    assert_linked(rows)
    assert [item["id"] for item in items] == [row.id for row in rows]
    for item, row in zip(items, rows, strict=True):
        assert (item["seq"], item["hash"], item["previousHash"]) == (
            row.seq,
            row.hash,
            row.previous_hash,
        )
        full = (await client.get(f"/v1/audit/events/{item['id']}")).json()
        assert recipe_hash(full) == item["hash"]
    assert await verify(client) == {
        "ok": True,
        "events": len(rows),
        "fromSeq": 1,
        "toSeq": len(rows),
        "headHash": rows[-1].hash,
        "firstBroken": None,
    }


async def test_the_recipe_holds_for_awkward_content(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    (event_id,) = await record(
        app,
        1,
        rollout_id=uuid.uuid4(),
        device_ids=[str(uuid.UUID(int=n)) for n in range(1, 251)],
        graph_request_ids=["g-1", "g-2"],
    )
    async with app.state.services.sessionmaker() as session:
        session.add(
            AuditEvent(
                at=datetime(2026, 11, 1, 8, 0, 0, 120, tzinfo=UTC),
                actor='quote " backslash \\ tab \t',
                action="test.awkward",
                outcome="failed",
                intent_id=event_id,
                ticket="ünïcødé – 東京 – 🙂",
                reason="line one\nline two\r\x01\x1f\x7f",
                request_id=None,
                graph_request_ids=[],
                device_ids=[],
                detail={
                    "zz": 1,
                    "a": [True, False, None, 1.5, -2, 10**15],
                    "bb": {"é": "x", "e": "y", "ab": {}},
                    "": "empty key",
                },
            )
        )
        await session.commit()

    for item in await listed(client):
        full = (await client.get(f"/v1/audit/events/{item['id']}")).json()
        assert recipe_hash(full) == item["hash"], full
    assert (await verify(client))["ok"] is True


async def test_a_transaction_s_events_take_consecutive_seqs_at_commit(app: FastAPI) -> None:
    async with app.state.services.sessionmaker() as session:
        audit = AuditRecorder(UnitOfWork(session), CONTEXT)
        intent = audit.record(action="test.chain", outcome="requested")
        await session.flush()
        outcome = audit.record(action="test.chain", outcome="succeeded", intent=intent)
        await session.flush()
        unchained = await session.execute(
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.previous_hash).where(
                AuditEvent.id.in_([intent.id, outcome.id])
            )
        )
        # Before COMMIT the events have no place yet (and nobody else can see them).
        assert unchained.all() == [(None, None, None), (None, None, None)]
        await session.commit()

    rows = await chain(app)
    assert [(row.id, row.seq, row.intent_id) for row in rows] == [
        (intent.id, 1, None),
        (outcome.id, 2, intent.id),
    ]
    assert_linked(rows)


# --- append-only ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE audit_events SET reason = 'rewritten' WHERE id = :id", "append-only: UPDATE"),
        ("UPDATE audit_events SET at = at WHERE id = :id", "append-only: UPDATE"),
        ("DELETE FROM audit_events WHERE id = :id", "append-only: DELETE"),
        ("TRUNCATE audit_events", "TRUNCATE refused"),
        ("TRUNCATE audit_events CASCADE", "TRUNCATE refused"),
        ("UPDATE audit_chain_head SET seq = 0, hash = :zeros", "UPDATE refused"),
        ("DELETE FROM audit_chain_head", "DELETE refused"),
        ("TRUNCATE audit_chain_head", "TRUNCATE refused"),
        (
            "INSERT INTO audit_events (actor, action, outcome, graph_request_ids, device_ids,"
            " detail, seq, previous_hash, hash) VALUES ('x', 'x', 'succeeded', '{}', '{}', '{}',"
            " 99, :zeros, :zeros)",
            "set at COMMIT",
        ),
    ],
)
async def test_the_database_refuses_to_change_history_through_the_app_s_connection(
    client: httpx.AsyncClient, app: FastAPI, statement: str, message: str
) -> None:
    await record(app, 3)
    before = await listed(client)

    async with app.state.services.sessionmaker() as session:
        with pytest.raises(DBAPIError, match=message) as refused:
            await session.execute(text(statement), {"id": before[1]["id"], "zeros": GENESIS_HASH})
        await session.rollback()

    assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    assert await listed(client) == before
    assert (await verify(client))["ok"] is True


async def test_an_uncommitted_event_cannot_be_given_a_place_of_its_choosing(app: FastAPI) -> None:
    async with app.state.services.sessionmaker() as session:
        audit = AuditRecorder(UnitOfWork(session), CONTEXT)
        event = audit.record(action="test.chain", outcome="succeeded")
        await session.flush()
        with pytest.raises(DBAPIError, match="append-only: UPDATE"):
            await session.execute(
                text(
                    "UPDATE audit_events SET seq = 1, previous_hash = :h, hash = :h WHERE id = :id"
                ),
                {"h": GENESIS_HASH, "id": event.id},
            )
        await session.rollback()

    assert await chain(app) == []


# --- verification ------------------------------------------------------------------------------


async def test_an_event_changed_behind_the_triggers_is_named_by_verify(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ids = await record(app, 6)
    changed = ids[3]  # seq 4

    await behind_the_triggers(
        app, "UPDATE audit_events SET reason = 'nothing to see' WHERE id = :id", id=changed
    )

    body = await verify(client)
    assert body == {
        "ok": False,
        "events": 3,
        "fromSeq": 1,
        "toSeq": 6,
        "headHash": None,
        "firstBroken": {
            "id": changed,
            "seq": 4,
            "problem": "hashMismatch",
            "message": f"event {changed} (seq 4) does not hash to its stored hash: it was changed",
        },
    }
    # Ranges that leave it out still verify; one that holds it does not.
    assert (await verify(client, fromSeq=1, toSeq=3))["ok"] is True
    assert (await verify(client, fromSeq=5))["ok"] is True
    assert (await verify(client, fromSeq=4, toSeq=4))["firstBroken"]["id"] == changed


async def test_a_change_whose_hash_was_recomputed_breaks_the_next_link(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ids = await record(app, 5)
    recompute = """
        UPDATE audit_events SET reason = 'rewritten', hash = audit_event_digest(
            id, at, actor, action, outcome, rollout_id, operation_id, intent_id, ticket,
            'rewritten', request_id, graph_request_ids, device_ids, detail, seq, previous_hash)
        WHERE id = :id
    """

    await behind_the_triggers(app, recompute, id=ids[2])

    broken = (await verify(client))["firstBroken"]
    assert (broken["id"], broken["seq"], broken["problem"]) == (ids[3], 4, "brokenLink")
    # The range that ends at the changed event is caught by the event after it.
    broken = (await verify(client, toSeq=3))["firstBroken"]
    assert (broken["id"], broken["problem"]) == (ids[3], "brokenLink")
    assert (await verify(client, toSeq=2))["ok"] is True

    # The newest event has no event after it: the chain's head catches it.
    await behind_the_triggers(app, recompute, id=ids[4])
    broken = (await verify(client, fromSeq=5))["firstBroken"]
    assert (broken["id"], broken["seq"], broken["problem"]) == (ids[4], 5, "headMismatch")


async def test_deleted_events_are_found(client: httpx.AsyncClient, app: FastAPI) -> None:
    ids = await record(app, 6)

    await behind_the_triggers(app, "DELETE FROM audit_events WHERE id = ANY(:ids)", ids=ids[1:3])

    body = await verify(client)
    assert body["ok"] is False
    assert body["events"] == 1
    assert body["firstBroken"] == {
        "id": ids[3],
        "seq": 4,
        "problem": "gap",
        "message": f"seq 2–3 missing before event {ids[3]} (seq 4)",
    }
    # Starting after the gap: the first event's predecessor is missing.
    assert (await verify(client, fromSeq=4))["firstBroken"]["problem"] == "gap"
    assert (await verify(client, fromSeq=5))["ok"] is True

    # Removing the newest event leaves a shorter chain that links, but not to the head.
    await behind_the_triggers(app, "DELETE FROM audit_events WHERE id = :id", id=ids[5])
    broken = (await verify(client, fromSeq=5))["firstBroken"]
    assert (broken["id"], broken["seq"], broken["problem"]) == (ids[4], 5, "headMismatch")
    assert "the events after it are missing" in broken["message"]


async def test_an_event_slipped_in_behind_the_triggers_is_found(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await record(app, 2)

    await behind_the_triggers(
        app,
        "INSERT INTO audit_events (actor, action, outcome, graph_request_ids, device_ids, detail)"
        " VALUES ('mallory', 'rollout.delete', 'succeeded', '{}', '{}', '{}')",
    )

    (slipped,) = [row for row in await chain(app) if row.seq is None]
    body = await verify(client)
    assert body["firstBroken"]["id"] == slipped.id
    assert body["firstBroken"]["problem"] == "missingSeq"
    assert body["firstBroken"]["seq"] is None
    # Neither read shows it: they show the chain.
    assert [i["actor"] for i in await listed(client)] == ["svc-test", "svc-test"]
    assert (await client.get(f"/v1/audit/events/{slipped.id}")).status_code == 404


async def test_an_empty_log_and_ranges_beyond_the_newest_event(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    empty = await verify(client)
    assert empty == {
        "ok": True,
        "events": 0,
        "fromSeq": 1,
        "toSeq": 0,
        "headHash": GENESIS_HASH,
        "firstBroken": None,
    }

    await record(app, 3)
    rows = await chain(app)

    assert await verify(client, fromSeq=2, toSeq=99) == {
        **empty,
        "events": 2,
        "fromSeq": 2,
        "toSeq": 3,
        "headHash": rows[2].hash,
    }
    assert await verify(client, fromSeq=4) == {
        **empty,
        "fromSeq": 4,
        "toSeq": 3,
        "headHash": rows[2].hash,
    }
    assert await verify(client, fromSeq=3, toSeq=2) == {
        **empty,
        "fromSeq": 3,
        "toSeq": 2,
        "headHash": rows[1].hash,
    }
    middle = await verify(client, fromSeq=2, toSeq=2)
    assert (middle["events"], middle["headHash"]) == (1, rows[1].hash)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fromSeq": 0}, "fromSeq"),
        ({"toSeq": -1}, "toSeq"),
        ({"fromSeq": "x"}, "fromSeq"),
        ({"toSeq": 2**63}, "toSeq"),
    ],
)
async def test_bad_ranges_are_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/v1/audit/verify", params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_verification_walks_the_log_in_batches(app: FastAPI) -> None:
    ids = await record(app, 23)
    sessionmaker = app.state.services.sessionmaker

    async with sessionmaker() as session:
        whole = await verify_chain(session, batch_size=5)
        part = await verify_chain(session, from_seq=6, to_seq=15, batch_size=4)
    assert (whole.ok, whole.events, whole.to_seq) == (True, 23, 23)
    assert (part.ok, part.events, part.from_seq, part.to_seq) == (True, 10, 6, 15)

    await behind_the_triggers(
        app, "UPDATE audit_events SET detail = '{\"n\": 0}' WHERE id = :id", id=ids[16]
    )
    async with sessionmaker() as session:
        broken = await verify_chain(session, batch_size=5)
    assert broken.first_broken is not None
    assert (broken.first_broken.id, broken.first_broken.seq, broken.events) == (ids[16], 17, 16)


async def test_a_long_log_is_verified_in_several_batches_and_a_change_deep_in_it_found(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async with app.state.services.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO audit_events (actor, action, outcome, graph_request_ids, device_ids,"
                " detail) SELECT 'svc-bulk', 'test.bulk', 'succeeded', '{}', ARRAY[n::text],"
                " jsonb_build_object('n', n) FROM generate_series(1, 12000) AS n"
            )
        )
        await session.commit()

    assert (await verify(client))["events"] == 12000
    victim = await behind_the_triggers_pick(app, seq=11500)
    await behind_the_triggers(
        app, "UPDATE audit_events SET device_ids = '{}' WHERE id = :id", id=victim
    )
    body = await verify(client)
    assert (body["events"], body["firstBroken"]["id"]) == (11499, victim)


async def behind_the_triggers_pick(app: FastAPI, seq: int) -> int:
    async with app.state.services.sessionmaker() as session:
        found = await session.scalar(select(AuditEvent.id).where(AuditEvent.seq == seq))
        assert found is not None
        return int(found)


# --- concurrent writers and paging -------------------------------------------------------------


async def test_seq_follows_commit_order_not_id_order(
    app: FastAPI, wide_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sessions = [wide_sessionmaker() for _ in range(5)]
    ids = []
    for session in sessions:
        event = AuditRecorder(UnitOfWork(session), CONTEXT).record(
            action="test.order", outcome="succeeded"
        )
        await session.flush()
        ids.append(event.id)

    for session in reversed(sessions):
        await session.commit()
        await session.close()

    rows = await chain(app)
    assert [row.id for row in rows] == list(reversed(ids))
    assert_linked(rows)


async def test_concurrent_writers_get_a_gapless_chain_in_commit_order(
    client: httpx.AsyncClient,
    app: FastAPI,
    wide_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writers, per_writer = 20, 3
    done = asyncio.Event()
    snapshots: list[tuple[int, int]] = []

    async def writer(n: int) -> None:
        context = ChangeContext(actor=f"writer-{n}", ticket=None, reason=None, request_id=None)
        async with wide_sessionmaker() as session:
            audit = AuditRecorder(UnitOfWork(session), context)
            for k in range(per_writer):
                audit.record(action="test.concurrent", outcome="succeeded", detail={"k": k})
                await session.flush()
                await asyncio.sleep(random.uniform(0, 0.02))
            await session.commit()

    async def reader() -> None:
        # Whoever sees seq N sees every seq below it: in one snapshot, the chained events are
        # exactly 1…max(seq).
        async with wide_sessionmaker() as session:
            while not done.is_set():
                row = (
                    await session.execute(
                        text("SELECT coalesce(max(seq), 0), count(seq) FROM audit_events")
                    )
                ).one()
                await session.commit()
                snapshots.append((row[0], row[1]))
                await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(writers)))
    done.set()
    await reading

    rows = await chain(app)
    assert len(rows) == writers * per_writer
    assert_linked(rows)
    # A transaction's events are chained together, under the one lock, at its COMMIT.
    by_writer: dict[str, list[int]] = {}
    for row in rows:
        by_writer.setdefault(row.actor, []).append(row.seq or 0)
    for seqs in by_writer.values():
        assert seqs == list(range(seqs[0], seqs[0] + per_writer))
    assert len(snapshots) > 1
    assert all(highest == count for highest, count in snapshots)
    assert (await verify(client))["events"] == writers * per_writer


async def test_concurrent_requests_leave_a_chain_that_verifies(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/rollouts", json=rollout_body(ticket=f"CHG{n}")) for n in range(12))
    )
    assert [r.status_code for r in responses] == [201] * 12
    await app.state.services.operations.idle()

    rows = await chain(app)
    assert_linked(rows)
    assert len(rows) >= 24
    body = await verify(client)
    assert (body["ok"], body["events"]) == (True, len(rows))


async def test_paging_does_not_skip_an_event_committed_late_with_a_lower_id(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    sessionmaker = app.state.services.sessionmaker
    async with sessionmaker() as late:
        slow = AuditRecorder(UnitOfWork(late), CONTEXT).record(
            action="test.late", outcome="succeeded"
        )
        await late.flush()  # takes the lower id, commits last
        early = await record(app, 2)
        assert slow.id < min(early)

        first = (await client.get("/v1/audit/events", params={"limit": 1})).json()
        assert [item["id"] for item in first["items"]] == early[:1]
        await late.commit()

    seen = [item["id"] for item in first["items"]]
    cursor = first["nextCursor"]
    while cursor is not None:
        page = (await client.get("/v1/audit/events", params={"limit": 1, "cursor": cursor})).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]

    assert seen == [*early, slow.id]
