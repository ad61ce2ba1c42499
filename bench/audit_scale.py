"""Benchmark: the audit log at scale.

A throwaway database is migrated, then loaded with COPY: --events audit events (default
1,000,000) forming a valid hash chain, and --items per-device rows (default 5,000,000
operation items, the same device references also carried by the audit events that recorded
Graph's audience updates: 200 device ids per event). Then, through the real API
(`python -m app serve`, authentication on):

1. GET /v1/audit/events filtered by rolloutId, ticket, actor and deviceId (first page, default
   limit): p50/p99 over --samples requests each, cycling over 20 values spread over the log,
   and the same SQL (the app's own query, compiled from app.audit.service) under
   EXPLAIN (ANALYZE, BUFFERS), whose plan shows which index is used. Target: p50 <= 20 ms.
2. CSV export of --csv-events events (default 100,000), page after page of 500 following the
   `Link` header, streamed to nowhere: time, and the API process's RSS before, after the first
   tenth and at the end (constant memory: the peak does not grow with the number exported).
3. GET /v1/audit/verify over --verify-events events (default 100,000) in the middle of the
   chain, --verify-runs times; and once over the whole chain (--no-full-verify skips it).

How the chain is loaded: each event's seq, previous_hash and hash are computed here with the
recipe of docs/api-guide.md ("Recomputing a hash yourself"), checked against the database's own
audit_event_digest() on a sample before loading, and written by COPY with
`session_replication_role = replica` (the append-only and chain triggers, and foreign keys,
are off for the load only); audit_chain_head is then set to the last event. Secondary indexes
of the loaded tables are dropped before the load and created again from their own definitions
after it, then the tables are VACUUM ANALYZEd.

    .venv/bin/python bench/audit_scale.py                      # ~10 min on 2 CPUs
    .venv/bin/python bench/audit_scale.py --events 100000 --items 500000   # ~1 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import harness
import httpx
import psycopg
from harness import Bench, PeakSampler, print_table, stats, verdict

TARGET_FILTER_P50_MS = 20.0
GENESIS = "0" * 64
ACTIVE = 50  # rollouts whose events interleave at any time
PER_ROLLOUT = 100  # audit events per rollout
TICKETS_PER_ROLLOUT = 5
ACTORS = 100
CHUNK = 200  # device ids per Graph audience update (GRAPH_MAX_IDS_PER_CALL)
DEVICE_EVENTS = 3  # events 2, 3, 4 of a rollout record its operation's device chunks
OTHER_ACTIONS = (
    ("rollout.pause", "requested"),
    ("rollout.pause", "succeeded"),
    ("rollout.resume", "requested"),
    ("rollout.resume", "succeeded"),
    ("audience.update", "requested"),
    ("audience.update", "succeeded"),
    ("rollout.stateObserved", "succeeded"),
    ("rollout.patch", "requested"),
    ("rollout.patch", "failed"),
)
START = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
EVENT_COLUMNS = (
    "id, at, actor, action, outcome, rollout_id, operation_id, intent_id, ticket, reason,"
    " request_id, graph_request_ids, device_ids, detail, seq, previous_hash, hash"
)
FILTER_VALUES = 20
# Skew: a caller and a standing ticket that appear only in the newest LATE_SHARE of the log
# (about 1 % of all events each), frequent enough to be in the planner's most-common values.
LATE_ACTOR, LATE_TICKET, LATE_SHARE = "svc-late-integration", "CHG-STANDING-LATE", 0.025


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events loaded")
    parser.add_argument("--items", type=int, default=5_000_000, help="operation items loaded")
    parser.add_argument("--samples", type=int, default=200, help="requests per filter")
    parser.add_argument("--csv-events", type=int, default=100_000, help="events exported")
    parser.add_argument("--verify-events", type=int, default=100_000, help="events verified")
    parser.add_argument("--verify-runs", type=int, default=3)
    parser.add_argument("--no-full-verify", action="store_true", help="skip verifying all")
    parser.add_argument("--seed", type=int, default=12)
    harness.common_arguments(parser)
    args = parser.parse_args()
    rollouts = args.events // PER_ROLLOUT
    if not 10_000 <= args.events <= 5_000_000 or args.events % (ACTIVE * PER_ROLLOUT):
        parser.error(f"--events must be 10,000-5,000,000, a multiple of {ACTIVE * PER_ROLLOUT}")
    if args.items % rollouts or not 1 <= args.items // rollouts <= DEVICE_EVENTS * CHUNK:
        parser.error(f"--items must be a multiple of {rollouts} (rollouts), at most 600 each")
    if not 10 <= args.samples <= 5000 or not 1 <= args.verify_runs <= 20:
        parser.error("--samples 10-5000, --verify-runs 1-20")
    if not 500 <= args.csv_events <= args.events or not 1 <= args.verify_events <= args.events:
        parser.error("--csv-events 500..--events, --verify-events 1..--events")
    return args


# -- the data ----------------------------------------------------------------------------------


class Shape:
    """Who and what the generated log is about (deterministic for a seed)."""

    def __init__(self, events: int, items: int, seed: int) -> None:
        rng = random.Random(seed)
        self.events = events
        self.late_from = int(events * (1 - LATE_SHARE))
        self.rollouts = events // PER_ROLLOUT
        self.items_per_operation = items // self.rollouts
        self.devices = max(1, items // 5)  # each device is in 5 operations
        self.rollout_ids = [_uuid(rng) for _ in range(self.rollouts)]
        self.operation_ids = [_uuid(rng) for _ in range(self.rollouts)]
        self.device_base = rng.getrandbits(128) & ~((1 << 40) - 1)
        self.actors = [f"user{n:03d}@contoso.example" for n in range(ACTORS - 10)]
        self.actors += [f"svc-change-{n}" for n in range(10)]

    def device(self, index: int) -> str:
        return str(uuid.UUID(int=self.device_base + index % self.devices))

    def operation_devices(self, rollout: int) -> list[str]:
        start = rollout * self.items_per_operation
        return [self.device(start + j) for j in range(self.items_per_operation)]

    def ticket(self, rollout: int, k: int) -> str:
        return f"CHG{rollout * TICKETS_PER_ROLLOUT + k * TICKETS_PER_ROLLOUT // PER_ROLLOUT:08d}"

    def actor(self, rollout: int) -> str:
        return self.actors[rollout % ACTORS]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _js(value: str | None) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The recipe of docs/api-guide.md: JSON as PostgreSQL writes a jsonb value."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_js(k)}: {canonical_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(canonical_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _array(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"  # ids: hex and hyphens only


def _copy_array(values: list[str]) -> str:
    return "{" + ",".join(values) + "}"


def _copy(value: str | None) -> str:
    return "\\N" if value is None else value


def events(shape: Shape) -> Iterator[tuple[str, str]]:
    """(COPY line, canonical text) of every event, in seq order, hash chain included."""
    previous = GENESIS
    last_in_rollout: dict[int, int] = {}
    step_us = 365 * 86400 * 1_000_000 // shape.events
    for i in range(shape.events):
        event_id = seq = i + 1
        rollout = (i // (ACTIVE * PER_ROLLOUT)) * ACTIVE + i % ACTIVE
        k = (i // ACTIVE) % PER_ROLLOUT
        at = START + dt.timedelta(microseconds=i * step_us)
        actor: str = shape.actor(rollout)
        ticket: str | None = shape.ticket(rollout, k)
        reason: str | None = f"Quarterly feature update, ring {rollout % 7}"
        devices: list[str] = []
        graph_ids: list[str] = []
        detail: dict[str, Any]
        operation: str | None = None
        intent: int | None = None
        if k == 0:
            action, outcome, detail = "rollout.create", "requested", {"kind": "feature"}
        elif k == 1:
            action, outcome, detail = "rollout.create", "succeeded", {"status": "active"}
            intent = last_in_rollout.get(rollout)
        elif k < 2 + DEVICE_EVENTS:
            chunk = k - 2
            all_devices = shape.operation_devices(rollout)
            devices = all_devices[chunk * CHUNK : (chunk + 1) * CHUNK]
            action, outcome = "graph.updateAudience", "succeeded"
            operation = shape.operation_ids[rollout]
            graph_ids = [str(uuid.UUID(int=(rollout << 8) + chunk))]
            detail = {"addMember": len(devices), "removeMember": 0}
        else:
            action, outcome = OTHER_ACTIONS[k % len(OTHER_ACTIONS)]
            detail = {"step": k}
            if action == "rollout.stateObserved":
                actor, ticket, reason = "graph", None, None
                detail = {"from": "offering", "to": "paused"}
            elif outcome != "requested":
                intent = last_in_rollout.get(rollout)
            if i >= shape.late_from and k % 2 and actor != "graph":
                actor, ticket = LATE_ACTOR, LATE_TICKET
        last_in_rollout[rollout] = event_id
        request_id = f"req-{event_id:012x}"
        at_text = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rollout_id = shape.rollout_ids[rollout]
        canonical = (
            f'[{event_id}, "{at_text}", {_js(actor)}, {_js(action)}, {_js(outcome)},'
            f" {_js(rollout_id)}, {_js(operation)}, {'null' if intent is None else intent},"
            f" {_js(ticket)}, {_js(reason)}, {_js(request_id)}, {_array(graph_ids)},"
            f" {_array(devices)}, {canonical_json(detail)}, {seq}, {_js(previous)}]"
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        line = "\t".join(
            (
                str(event_id),
                at.isoformat(),
                actor,
                action,
                outcome,
                rollout_id,
                _copy(operation),
                _copy(None if intent is None else str(intent)),
                _copy(ticket),
                _copy(reason),
                request_id,
                _copy_array(graph_ids),
                _copy_array(devices),
                json.dumps(detail),
                str(seq),
                previous,
                digest,
            )
        )
        previous = digest
        yield line, canonical


# -- loading -----------------------------------------------------------------------------------


def _secondary_indexes(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that no constraint owns."""
    rows = conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        (table,),
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def _copy_lines(conn: psycopg.Connection[Any], statement: str, lines: Iterator[str]) -> int:
    count = 0
    buffer: list[str] = []
    with conn.cursor().copy(statement) as copy:
        for line in lines:
            buffer.append(line)
            count += 1
            if len(buffer) >= 20_000:
                copy.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            copy.write("\n".join(buffer) + "\n")
    return count


def check_recipe(conn: psycopg.Connection[Any], shape: Shape) -> int:
    """The generator's hashes against the database's audit_event_digest() on a sample of
    events of every kind (the first 2 rollouts' events, devices included)."""
    checked = 0
    for line, canonical in _take(events(shape), ACTIVE * 8):
        cells = line.split("\t")
        if cells[7] == "\\N":
            cells[7] = None  # type: ignore[call-overload]
        row = conn.execute(
            "SELECT audit_event_canonical(%s::bigint, %s::timestamptz, %s, %s, %s, %s::uuid,"
            " %s::uuid, %s::bigint, %s, %s, %s, %s::text[], %s::text[], %s::jsonb, %s::bigint,"
            " %s)",
            [None if c == "\\N" else c for c in cells[:16]],
        ).fetchone()
        database = row[0] if row else None
        if database != canonical:
            raise harness.BenchError(
                f"the recipe disagrees with audit_event_canonical():\n  {canonical[:300]}\n"
                f"  {str(database)[:300]}"
            )
        if hashlib.sha256(canonical.encode()).hexdigest() != cells[16]:
            raise harness.BenchError("hash of the canonical text differs")
        checked += 1
    return checked


def _take(iterator: Iterator[tuple[str, str]], n: int) -> Iterator[tuple[str, str]]:
    for index, item in enumerate(iterator):
        if index >= n:
            return
        yield item


def load(database_url: str, shape: Shape) -> dict[str, Any]:
    """Everything loaded with COPY, the chain valid, indexes rebuilt, tables analysed."""
    timings: dict[str, float] = {}
    url = harness._libpq(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        checked = check_recipe(conn, shape)
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET session_replication_role = replica")  # triggers and FKs: load only
        dropped: dict[str, list[tuple[str, str]]] = {}
        for table in ("audit_events", "operation_items"):
            dropped[table] = _secondary_indexes(conn, table)
            for name, _ in dropped[table]:
                conn.execute(f'DROP INDEX "{name}"')

        started = time.perf_counter()
        created = START.isoformat()
        _copy_lines(
            conn,
            "COPY rollouts (id, status, graph_deployment_id, graph_audience_id, name, ticket,"
            " reason, update_kind, catalog_entry_id, update_version, settings, created_by,"
            " created_at, updated_at) FROM STDIN",
            (
                f"{rid}\tactive\tbench-dep-{r}\tbench-aud-{r}\tbench rollout {r}\t"
                f"{shape.ticket(r, 0)}\tbenchmark\tfeature\tbench-entry\tWindows 11, version 24H2"
                f"\t{{}}\t{shape.actor(r)}\t{created}\t{created}"
                for r, rid in enumerate(shape.rollout_ids)
            ),
        )
        n = shape.items_per_operation
        _copy_lines(
            conn,
            "COPY operations (id, kind, rollout_id, status, total, succeeded, failed, actor,"
            " ticket, update_category, detail, created_at, finished_at) FROM STDIN",
            (
                f"{oid}\taudience.update\t{shape.rollout_ids[r]}\tsucceeded\t{n}\t{n}\t0\t"
                f"{shape.actor(r)}\t{shape.ticket(r, 2)}\tfeature\t{{}}\t{created}\t{created}"
                for r, oid in enumerate(shape.operation_ids)
            ),
        )
        timings["rolloutsAndOperationsSeconds"] = time.perf_counter() - started

        started = time.perf_counter()
        items = _copy_lines(
            conn,
            "COPY operation_items (operation_id, seq, change, device_id, status,"
            " graph_request_id) FROM STDIN",
            (
                f"{oid}\t{j + 1}\taddMember\t{device}\tsucceeded\tgraph-req-{r}-{j // CHUNK}"
                for r, oid in enumerate(shape.operation_ids)
                for j, device in enumerate(shape.operation_devices(r))
            ),
        )
        timings["operationItemsCopySeconds"] = time.perf_counter() - started

        started = time.perf_counter()
        last_hash = GENESIS

        def lines() -> Iterator[str]:
            nonlocal last_hash
            for line, _ in events(shape):
                last_hash = line.rsplit("\t", 1)[1]
                yield line

        count = _copy_lines(conn, f"COPY audit_events ({EVENT_COLUMNS}) FROM STDIN", lines())
        conn.execute(
            "INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (count, last_hash),
        )
        conn.execute("SELECT setval('audit_events_id_seq', %s)", (count,))
        timings["auditEventsCopySeconds"] = time.perf_counter() - started
        conn.execute("SET session_replication_role = DEFAULT")

        started = time.perf_counter()
        for indexes in dropped.values():
            for _, definition in indexes:
                conn.execute(definition)
        timings["indexesSeconds"] = time.perf_counter() - started
        started = time.perf_counter()
        for table in ("rollouts", "operations", "operation_items", "audit_events"):
            conn.execute(f"VACUUM ANALYZE {table}")
        timings["vacuumAnalyzeSeconds"] = time.perf_counter() - started
        device_refs = conn.execute(
            "SELECT coalesce(sum(cardinality(device_ids)), 0) FROM audit_events"
        ).fetchone()[0]  # type: ignore[index]
        sizes = {
            table: conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()[
                0
            ]  # type: ignore[index]
            for table in ("audit_events", "operation_items")
        }
        database_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return {
        "recipeCheckedEvents": checked,
        "auditEvents": count,
        "operationItems": items,
        "auditDeviceReferences": int(device_refs),
        "rollouts": shape.rollouts,
        "rebuiltIndexes": {t: [name for name, _ in i] for t, i in dropped.items()},
        "tableBytes": sizes,
        "databaseBytes": database_bytes[0] if database_bytes else None,
        **timings,
    }


# -- measuring ---------------------------------------------------------------------------------


def filter_values(shape: Shape) -> dict[str, list[str]]:
    """FILTER_VALUES values of each filter, spread over the whole log (oldest to newest)."""
    picks = [
        min(shape.rollouts - 1, round(n * (shape.rollouts - 1) / (FILTER_VALUES - 1)))
        for n in range(FILTER_VALUES)
    ]
    return {
        "rolloutId": [shape.rollout_ids[r] for r in picks],
        "ticket": [shape.ticket(r, 50) for r in picks],
        "actor": [shape.actor(r) for r in range(FILTER_VALUES)] + ["graph"],
        "deviceId": [shape.device(r * shape.items_per_operation + 7) for r in picks],
        "actor (newest 2.5 % only)": [LATE_ACTOR],
        "ticket (newest 2.5 % only)": [LATE_TICKET],
    }


def sql_of_list_query(app_dir: str, name: str, value: str) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters the API runs for GET /v1/audit/events?<name>=<value> (first
    page, default limit), compiled from the app's own query."""
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

    from app.audit.service import AuditFilters, _list_query
    from app.pagination import DEFAULT_LIMIT

    keyword = {"rolloutId": "rollout_id", "deviceId": "device_id"}.get(name, name)
    parsed: Any = uuid.UUID(value) if name == "rolloutId" else value
    compiled = _list_query(AuditFilters(**{keyword: parsed}), 0, DEFAULT_LIMIT).compile(
        dialect=pg_dialect.dialect()  # type: ignore[no-untyped-call]
    )
    return str(compiled), dict(compiled.params)


def explain(database_url: str, sql: str, params: dict[str, Any]) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement: its text and the execution time (ms)."""
    with psycopg.connect(harness._libpq(database_url), autocommit=True) as conn:
        conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)  # warm
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    text = "\n".join(str(r[0]) for r in rows)
    execution = next(
        (float(r[0].split(":")[1].split()[0]) for r in rows if "Execution Time" in str(r[0])),
        float("nan"),
    )
    return text, execution


def filtered_queries(
    http: httpx.Client, bench: Bench, database_url: str, shape: Shape, samples: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, values in filter_values(shape).items():
        param = name.split(" ")[0]
        latencies: list[float] = []
        found: list[int] = []
        for index in range(samples + len(values)):
            value = values[index % len(values)]
            started = time.perf_counter()
            answer = http.get("/v1/audit/events", params={param: value})
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise harness.BenchError(f"{name}={value}: {answer.status_code} {answer.text}")
            if index >= len(values):  # the first round is a warm-up
                latencies.append(elapsed)
                found.append(len(answer.json()["items"]))
        plans, executions = [], []
        for value in values:
            sql, params = sql_of_list_query(str(bench.app_dir), param, value)
            plan, execution = explain(database_url, sql, params)
            plans.append(plan)
            executions.append(execution)
        newest = len(values) - 2 if name == "actor" else len(values) - 1
        results[name] = {
            "httpMs": stats(latencies),
            "itemsPerPage": {"min": min(found), "max": max(found)},
            "sqlExecutionMs": stats(executions),
            "values": values,
            "sql": sql,
            "explainNewest": plans[newest],
            "explainOldest": plans[0],
        }
        print(
            f"{name}: p50 {results[name]['httpMs']['p50']:.2f} ms, SQL p50"
            f" {results[name]['sqlExecutionMs']['p50']:.2f} ms",
            flush=True,
        )
    return results


def csv_export(http: httpx.Client, api: harness.Process, total: int) -> dict[str, Any]:
    """Follow the CSV pages (500 events each) until `total` events, reading each response as
    a stream and discarding it."""
    rss_before = api.rss()
    url: str | None = "/v1/audit/events?limit=500"
    rows = pages = 0
    bytes_read = 0
    peak_tenth = 0
    started = time.perf_counter()
    with PeakSampler(api, every=0.02) as sampler:
        while url and rows < total:
            with http.stream("GET", url, headers={"Accept": "text/csv"}) as answer:
                if answer.status_code != 200:
                    raise harness.BenchError(f"CSV page: {answer.status_code}")
                lines = 0
                for chunk in answer.iter_bytes():
                    bytes_read += len(chunk)
                    lines += chunk.count(b"\r\n")
                link = answer.headers.get("Link")
            rows += lines - 1  # the header row
            pages += 1
            url = link.split(">")[0].lstrip("<") if link else None
            if rows >= total // 10 and not peak_tenth:
                peak_tenth = sampler.peak
    seconds = time.perf_counter() - started
    return {
        "events": rows,
        "pages": pages,
        "bytes": bytes_read,
        "seconds": seconds,
        "eventsPerSecond": rows / seconds,
        "apiRssBeforeBytes": rss_before,
        "apiRssPeakFirstTenthBytes": peak_tenth,
        "apiRssPeakBytes": sampler.peak,
        "rssSamples": sampler.samples,
    }


def verify(http: httpx.Client, shape: Shape, events: int, runs: int, full: bool) -> dict[str, Any]:
    first = max(1, (shape.events - events) // 2)
    last = first + events - 1
    times, answers = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = http.get("/v1/audit/verify", params={"fromSeq": first, "toSeq": last})
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200 or not answer.json()["ok"]:
            raise harness.BenchError(f"verify: {answer.status_code} {answer.text[:500]}")
        answers.append(answer.json())
    result: dict[str, Any] = {
        "fromSeq": first,
        "toSeq": last,
        "ms": stats(times),
        "answer": answers[-1],
    }
    if full:
        started = time.perf_counter()
        answer = http.get("/v1/audit/verify", timeout=900)
        result["fullChain"] = {
            "seconds": time.perf_counter() - started,
            "status": answer.status_code,
            "answer": answer.json(),
        }
        if answer.status_code != 200 or not answer.json()["ok"]:
            raise harness.BenchError(f"full verify: {answer.status_code} {answer.text[:500]}")
    return result


def main() -> int:
    args = parse_args()
    shape = Shape(args.events, args.items, args.seed)
    with Bench("audit", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        database_url = bench.create_database()
        # No worker: its periodic drift check would read every loaded rollout from Graph.
        env = bench.service_env(database_url, sim, RUN_WORKER="false")
        bench.migrate(env)
        bench.announce()
        started = time.perf_counter()
        loaded = load(database_url, shape)
        loaded["seconds"] = time.perf_counter() - started
        print(f"loaded in {loaded['seconds']:.0f} s: {json.dumps(loaded)}", flush=True)
        api, http = bench.start_api(env)
        queries = filtered_queries(http, bench, database_url, shape, args.samples)
        exported = csv_export(http, api, args.csv_events)
        print(f"CSV: {exported['events']} events in {exported['seconds']:.1f} s", flush=True)
        verified = verify(
            http, shape, args.verify_events, args.verify_runs, not args.no_full_verify
        )
        rows = [
            [
                f"GET /v1/audit/events?{name}=",
                q["httpMs"]["p50"],
                q["httpMs"]["p99"],
                q["sqlExecutionMs"]["p50"],
                f"p50 <= {TARGET_FILTER_P50_MS:g}",
                verdict(q["httpMs"]["p50"], TARGET_FILTER_P50_MS, at_most=True),
            ]
            if "httpMs" in q
            else [f"  {name}", "", "", q["sqlExecutionMs"]["p50"], "", ""]
            for name, q in queries.items()
        ]
        rows.append(
            [
                f"verify {args.verify_events} events",
                verified["ms"]["p50"],
                verified["ms"]["p99"],
                "",
                "",
                "",
            ]
        )
        print_table(
            f"audit log of {loaded['auditEvents']:,} events, {loaded['operationItems']:,}"
            f" operation items (ms; {args.samples} requests per filter)",
            ["", "p50", "p99", "SQL p50", "target", "verdict"],
            rows,
        )
        mb = 1024 * 1024
        print(
            f"\nCSV export: {exported['events']:,} events in {exported['pages']} pages,"
            f" {exported['seconds']:.1f} s ({exported['eventsPerSecond']:.0f}/s); API RSS"
            f" {exported['apiRssBeforeBytes'] / mb:.0f} MB before, peak"
            f" {exported['apiRssPeakFirstTenthBytes'] / mb:.0f} MB after a tenth,"
            f" {exported['apiRssPeakBytes'] / mb:.0f} MB at the end"
        )
        if "fullChain" in verified:
            print(f"full chain verified in {verified['fullChain']['seconds']:.1f} s")
        for name, q in queries.items():
            print(f"\nEXPLAIN {name} (newest value):\n{q['explainNewest']}")
        summary = {
            name: {
                "p50Ms": q["httpMs"]["p50"],
                "sqlP50Ms": q["sqlExecutionMs"]["p50"],
                "met": q["httpMs"]["p50"] <= TARGET_FILTER_P50_MS,
            }
            for name, q in queries.items()
            if "httpMs" in q
        }
        path = bench.write_results(
            {
                "summary": summary,
                "load": loaded,
                "queries": queries,
                "csv": exported,
                "verify": verified,
            }
        )
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
