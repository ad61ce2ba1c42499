"""Benchmark 3: reads through `/v1`.

1. GET /v1/rollouts/{id} (which reads the deployment from Graph) against the direct Graph
   GET /deployments/{id}, one request at a time, alternating, Graph latency 0: the latency the
   service adds (p50 target <= 3 ms).
2. GET /v1/rollouts (first page, default limit) with --rollouts rollouts in the database
   (p50 target <= 10 ms). Rollouts beyond the first are copies of one rollout created through
   the API, made with one INSERT ... SELECT (--seed-via sql, the default, fast), or created one
   by one through POST /v1/rollouts (--seed-via api).
3. POST /v1/rollouts (no devices: its audience and deployment created in Graph, the audit
   events written) against the same two Graph calls made directly, one at a time, alternating:
   the latency the service adds to a create (p50 target <= 10 ms).
4. --readers concurrent readers of one rollout for --duration seconds with --graph-latency
   seconds added to every Graph call: requests per second against the ceiling readers / latency
   (target >= 0.3 of it); the same load sent straight to the simulator is shown for reference.

    .venv/bin/python bench/reads.py --samples 300 --rollouts 1000 --readers 50 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Any

import harness
import httpx
from harness import Bench, DirectGraph, print_table, stats, verdict

TARGET_ADDED_P50_MS = 3.0
TARGET_LIST_P50_MS = 10.0
TARGET_CREATE_ADDED_P50_MS = 10.0
TARGET_SHARE = 0.3
# Columns of `rollouts` the copies do not take from the original (the rest are copied as they
# are, whatever columns the schema has by then).
COPY_OVERRIDES = {
    "id": "gen_random_uuid()",
    "graph_deployment_id": "'bench-deployment-' || g",
    "graph_audience_id": "'bench-audience-' || g",
    "name": "r.name || ' #' || g",
    "created_at": "r.created_at - make_interval(secs => g)",
    "updated_at": "r.updated_at - make_interval(secs => g)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="requests per latency figure")
    parser.add_argument("--rollouts", type=int, default=1000, help="rollouts for the list")
    parser.add_argument("--seed-via", choices=["sql", "api"], default="sql")
    parser.add_argument("--readers", type=int, default=50, help="concurrent readers")
    parser.add_argument("--graph-latency", type=float, default=0.1, help="for the readers (s)")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds of load")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds first")
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 10 <= args.samples <= 10_000 or not 1 <= args.rollouts <= 100_000:
        parser.error("--samples must be 10-10000 and --rollouts 1-100000")
    if not 1 <= args.readers <= 500 or not 0 < args.duration <= 300 or args.graph_latency <= 0:
        parser.error("--readers 1-500, --duration up to 300 s, --graph-latency > 0")
    return args


def timed(call: Callable[[], httpx.Response], expected: int = 200) -> float:
    """Milliseconds one request took; raises unless it answered `expected`."""
    started = time.perf_counter()
    answer = call()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != expected:
        raise harness.BenchError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def single_reads(
    http: httpx.Client, direct: DirectGraph, rollout_id: str, deployment_id: str, samples: int
) -> dict[str, Any]:
    """Alternate the service's read and Graph's, one at a time."""
    return side_by_side(
        lambda: timed(lambda: http.get(f"/v1/rollouts/{rollout_id}")),
        lambda: timed(lambda: direct.get_deployment(deployment_id)),
        samples,
    )


def single_creates(http: httpx.Client, direct: DirectGraph, samples: int) -> dict[str, Any]:
    """Alternate the service's create of a rollout without devices and the same two Graph calls
    made directly (create audience, create deployment), one at a time."""
    body = harness.rollout_body([], "bench create")
    del body["devices"]

    def direct_create() -> float:
        started = time.perf_counter()
        direct.create_deployment()
        return (time.perf_counter() - started) * 1000

    return side_by_side(
        lambda: timed(lambda: http.post("/v1/rollouts", json=body), expected=201),
        direct_create,
        samples,
    )


def side_by_side(
    service_ms: Callable[[], float], direct_ms: Callable[[], float], samples: int
) -> dict[str, Any]:
    """Time the service's request and the direct Graph calls alternately, after 20 of each
    unmeasured; the percentiles of each and the differences at p50 and p99."""
    api, graph = [], []
    for index in range(samples + 20):
        a, g = service_ms(), direct_ms()
        if index >= 20:  # the first 20 of each are a warm-up
            api.append(a)
            graph.append(g)
    service, direct_stats = stats(api), stats(graph)
    return {
        "serviceMs": service,
        "directMs": direct_stats,
        "addedP50Ms": service["p50"] - direct_stats["p50"],
        "addedP99Ms": service["p99"] - direct_stats["p99"],
    }


def seed_rollouts(
    bench: Bench, database_url: str, http: httpx.Client, template_id: str, total: int, via: str
) -> dict[str, Any]:
    """Bring the number of rollouts to `total`; how, and how long it took."""
    have = bench.sql(database_url, "SELECT count(*) FROM rollouts")[0][0]
    missing = max(0, total - have)
    started = time.perf_counter()
    if via == "api":
        for index in range(missing):
            body = harness.rollout_body([], f"bench list #{index}")
            del body["devices"]
            answer = http.post("/v1/rollouts", json=body)
            if answer.status_code != 201:
                raise harness.BenchError(f"POST /v1/rollouts: {answer.status_code} {answer.text}")
    elif missing:
        columns = [
            row[0]
            for row in bench.sql(
                database_url,
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'rollouts'"
                " ORDER BY ordinal_position",
            )
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        values = [COPY_OVERRIDES.get(c, f'r."{c}"') for c in columns]
        bench.sql(
            database_url,
            f"INSERT INTO rollouts ({names})"
            f" SELECT {', '.join(values)} FROM rollouts r, generate_series(1, %s) g"
            " WHERE r.id = %s",
            (missing, template_id),
        )
        bench.sql(database_url, "ANALYZE rollouts")
    count = bench.sql(database_url, "SELECT count(*) FROM rollouts")[0][0]
    return {"via": via, "added": missing, "seconds": time.perf_counter() - started, "total": count}


def list_reads(http: httpx.Client, samples: int) -> dict[str, Any]:
    """GET /v1/rollouts (default page) and ?limit=500, one at a time."""
    first_page = http.get("/v1/rollouts").json()
    page: list[float] = []
    for index in range(samples + 20):
        elapsed = timed(lambda: http.get("/v1/rollouts"))
        if index >= 20:
            page.append(elapsed)
    large: list[float] = []
    for index in range(max(10, samples // 5) + 5):
        elapsed = timed(lambda: http.get("/v1/rollouts", params={"limit": 500}))
        if index >= 5:
            large.append(elapsed)
    return {
        "defaultPageItems": len(first_page["items"]),
        "defaultPageMs": stats(page),
        "limit500Ms": stats(large),
    }


async def _load(
    make_client: Callable[[], httpx.AsyncClient],
    path: str,
    readers: int,
    warmup: float,
    duration: float,
) -> dict[str, Any]:
    """`readers` loops of GET `path`, each with its own client and connection (one shared
    httpx pool of 50 connections costs more CPU than the server under test: 74 against 370
    requests/s measured here); what completed inside the measured window."""
    start = time.perf_counter()
    window = (start + warmup, start + warmup + duration)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    completed = 0

    async def reader() -> None:
        nonlocal completed
        async with make_client() as client:
            while time.perf_counter() < window[1]:
                sent = time.perf_counter()
                try:
                    answer = await client.get(path)
                    status = str(answer.status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                done = time.perf_counter()
                completed += 1
                if window[0] <= done <= window[1]:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
                        latencies.append((done - sent) * 1000)

    tasks = [asyncio.create_task(reader()) for _ in range(readers)]
    # Bounded: whatever is still running 35 s after the window (the client's timeout is 30 s)
    # is cancelled.
    _, pending = await asyncio.wait(tasks, timeout=warmup + duration + 35)
    for task in pending:
        task.cancel()
    ok = statuses.get("200", 0)
    return {
        "requestsPerSecond": ok / duration,
        "ok": ok,
        "completed": completed,
        "statuses": statuses,
        "latencyMs": stats(latencies) if latencies else {},
        "unfinishedCancelled": len(pending),
    }


async def readers_of(
    api_url: str, path: str, readers: int, duration: float, warmup: float = 0
) -> dict[str, Any]:
    """`readers` loops of GET `path` on the service, authenticated (see _load)."""
    return await _load(
        lambda: httpx.AsyncClient(base_url=api_url, headers=harness.API_HEADERS, timeout=30),
        path,
        readers,
        warmup,
        duration,
    )


async def concurrent_reads(
    api_url: str, sim: harness.Simulator, token: str, rollout_id: str, deployment: str, args: Any
) -> dict[str, Any]:
    """The readers against the service, then the same load straight at the simulator."""
    tls = ssl.create_default_context(cafile=str(sim.ca))
    service = await readers_of(
        api_url, f"/v1/rollouts/{rollout_id}", args.readers, args.duration, args.warmup
    )
    direct = await _load(
        lambda: httpx.AsyncClient(
            base_url=sim.url,
            verify=tls,
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ),
        f"{harness.GRAPH_ROOT}/deployments/{deployment}",
        args.readers,
        args.warmup,
        args.duration,
    )
    ceiling = args.readers / args.graph_latency
    return {
        "readers": args.readers,
        "graphLatencySeconds": args.graph_latency,
        "ceilingRequestsPerSecond": ceiling,
        "service": service,
        "direct": direct,
        "share": service["requestsPerSecond"] / ceiling,
        "directShare": direct["requestsPerSecond"] / ceiling,
    }


def timing_row(label: str, ms: dict[str, float], target: float | None = None) -> list[Any]:
    """A table row of p50 and p99 (ms), with the p50 target and its verdict if there is one."""
    if target is None:
        return [label, ms["p50"], ms["p99"], "", ""]
    verdict_ = verdict(ms["p50"], target, at_most=True)
    return [label, ms["p50"], ms["p99"], f"p50 <= {target:g}", verdict_]


def added_row(label: str, compared: dict[str, Any], target: float) -> list[Any]:
    """The row of what the service added to Graph's time (see side_by_side), against target."""
    added = {"p50": compared["addedP50Ms"], "p99": compared["addedP99Ms"]}
    return timing_row(label, added, target)


def main() -> int:
    args = parse_args()
    with Bench("reads", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        database_url = bench.create_database()
        env = bench.service_env(database_url, sim, RUN_WORKER="true")
        bench.migrate(env)
        api, http = bench.start_api(env)
        direct = DirectGraph(sim)
        bench.clients.append(direct)
        bench.announce()
        created = harness.create_through_api(
            http, harness.device_ids(100), timeout=120, poll=0.1, name="bench reads"
        )
        rollout_id, deployment = created["rolloutId"], created["graphDeploymentId"]

        cpu_before = api.cpu_seconds()
        single = single_reads(http, direct, rollout_id, deployment, args.samples)
        single["serviceCpuMsPerRequest"] = (
            (api.cpu_seconds() - cpu_before) / (args.samples + 20) * 1000
        )
        print("single reads done", flush=True)
        seeded = seed_rollouts(bench, database_url, http, rollout_id, args.rollouts, args.seed_via)
        listing = list_reads(http, args.samples)
        print(f"list reads done ({seeded['total']} rollouts)", flush=True)
        cpu_before = api.cpu_seconds()
        creates = single_creates(http, direct, args.samples)
        creates["serviceCpuMsPerRequest"] = (
            (api.cpu_seconds() - cpu_before) / (args.samples + 20) * 1000
        )
        print("creates done", flush=True)

        sim.faults(latencySeconds=args.graph_latency)
        token = str(direct.http.headers["Authorization"]).removeprefix("Bearer ")
        cpu_before = api.cpu_seconds()
        load = asyncio.run(
            concurrent_reads(str(http.base_url), sim, token, rollout_id, deployment, args)
        )
        load["service"]["cpuMsPerRequest"] = (
            (api.cpu_seconds() - cpu_before) / max(1, load["service"]["completed"]) * 1000
        )
        sim.clear_faults()

        service_ms, direct_ms = single["serviceMs"], single["directMs"]
        page = listing["defaultPageMs"]
        summary = {
            "addedP50Ms": single["addedP50Ms"],
            "addedP99Ms": single["addedP99Ms"],
            "addedP50Met": single["addedP50Ms"] <= TARGET_ADDED_P50_MS,
            "listP50Ms": page["p50"],
            "listP50Met": page["p50"] <= TARGET_LIST_P50_MS,
            "createAddedP50Ms": creates["addedP50Ms"],
            "createAddedP99Ms": creates["addedP99Ms"],
            "createAddedP50Met": creates["addedP50Ms"] <= TARGET_CREATE_ADDED_P50_MS,
            "readersRequestsPerSecond": load["service"]["requestsPerSecond"],
            "readersShareOfCeiling": load["share"],
            "readersMet": load["share"] >= TARGET_SHARE,
        }
        rps, ceiling = load["service"]["requestsPerSecond"], load["ceilingRequestsPerSecond"]
        print_table(
            f"reads through /v1 (latency in ms; {args.samples} samples each; Graph latency 0"
            f" except for the readers)",
            ["", "p50", "p99", "target", "verdict"],
            [
                timing_row("GET /v1/rollouts/{id}", service_ms),
                timing_row("Graph GET /deployments/{id} direct", direct_ms),
                ["service CPU ms per GET above", single["serviceCpuMsPerRequest"], "", "", ""],
                added_row("added by the service", single, TARGET_ADDED_P50_MS),
                timing_row(
                    f"GET /v1/rollouts ({listing['defaultPageItems']} of {seeded['total']},"
                    f" seeded via {seeded['via']})",
                    page,
                    TARGET_LIST_P50_MS,
                ),
                timing_row("GET /v1/rollouts?limit=500", listing["limit500Ms"]),
                timing_row("POST /v1/rollouts, no devices", creates["serviceMs"]),
                timing_row("Graph: create audience + deployment direct", creates["directMs"]),
                ["service CPU ms per POST above", creates["serviceCpuMsPerRequest"], "", "", ""],
                added_row("added by the service to a create", creates, TARGET_CREATE_ADDED_P50_MS),
            ],
        )
        print_table(
            f"{args.readers} concurrent readers of one rollout, Graph latency"
            f" {args.graph_latency * 1000:g} ms, {args.duration:g} s measured",
            ["", "req/s", "p50 ms", "p99 ms", "share of ceiling", "target", "verdict"],
            [
                [
                    "GET /v1/rollouts/{id}",
                    rps,
                    load["service"]["latencyMs"].get("p50", "-"),
                    load["service"]["latencyMs"].get("p99", "-"),
                    load["share"],
                    f">= {TARGET_SHARE:g}",
                    verdict(load["share"], TARGET_SHARE, at_most=False),
                ],
                [
                    "  service CPU ms per request",
                    load["service"]["cpuMsPerRequest"],
                    "",
                    "",
                    "",
                    "",
                    "",
                ],
                [
                    "Graph directly (reference)",
                    load["direct"]["requestsPerSecond"],
                    load["direct"]["latencyMs"].get("p50", "-"),
                    load["direct"]["latencyMs"].get("p99", "-"),
                    load["directShare"],
                    "",
                    "",
                ],
                [f"ceiling ({args.readers} / latency)", ceiling, "", "", 1.0, "", ""],
            ],
        )
        statuses = load["service"]["statuses"]
        if set(statuses) - {"200"}:
            print(f"note: service answers other than 200 during the load: {statuses}")
        path = bench.write_results(
            {
                "summary": summary,
                "single": single,
                "seeding": seeded,
                "list": listing,
                "creates": creates,
                "readers": load,
                "apiCpuSecondsTotal": api.cpu_seconds(),
            }
        )
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
