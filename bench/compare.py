"""Benchmark: two versions of the service side by side, on one machine at the same time.

On a shared virtual machine the CPU a request costs drifts by a fifth from one minute to the
next, more than most changes save, so runs made one after the other (even in turns) compare
poorly. This starts the service at two commits, A and B (B is the working tree unless given),
each with its own simulator and database, and alternates blocks of the same requests between
them: each pair of blocks meets the same machine. With two CPUs or more, both services are
pinned to CPU 0 and everything else (PostgreSQL's processes, the simulators, this client) to
CPU 1, so that a service's CPU time is not time spent waiting for a CPU; PostgreSQL's
processes get their own CPUs back at the end.

Workloads, one after the other: POST /v1/rollouts without devices, GET /v1/rollouts/{id} (a
rollout of 100 devices), with --devices N, creating a rollout of N devices until its operation
has finished, and with --readers N, N concurrent readers of that GET for --readers-seconds per
block while each side's Graph answers after --graph-latency. For each: the median over the
blocks of each side's service CPU per request (the API process, worker included) and wall time
per request (for the readers: the block's duration over the requests completed in it), and the
median of B's CPU over A's across the pairs, with every pair's ratio.

    .venv/bin/python bench/compare.py --a f9ae4c6
    .venv/bin/python bench/compare.py --a f9ae4c6 --b HEAD --devices 10000 --pairs 6
    .venv/bin/python bench/compare.py --a f9ae4c6 --readers 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import httpx
import reads
from harness import Bench, print_table

SERVICE_CPU = 0
OTHERS_CPU = 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, metavar="REF", help="the commit A runs")
    parser.add_argument("--b", metavar="REF", help="the commit B runs (default: working tree)")
    parser.add_argument("--pairs", type=int, default=8, help="blocks of each workload per side")
    parser.add_argument("--block", type=int, default=40, help="POSTs per block (GETs: 4 times)")
    parser.add_argument("--devices", type=int, default=0, help="also create+add this many")
    parser.add_argument("--readers", type=int, default=0, help="also this many readers at once")
    parser.add_argument("--readers-seconds", type=float, default=3, help="per readers' block")
    parser.add_argument("--graph-latency", type=float, default=0.1, help="for the readers (s)")
    parser.add_argument("--no-pin", action="store_true", help="leave every process's CPUs be")
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 2 <= args.pairs <= 50 or not 5 <= args.block <= 1000:
        parser.error("--pairs must be 2-50 and --block 5-1000")
    if not 0 <= args.devices <= 100_000:
        parser.error("--devices must be 0-100000")
    if not 0 <= args.readers <= 500 or not 0.5 <= args.readers_seconds <= 60:
        parser.error("--readers must be 0-500 and --readers-seconds 0.5-60")
    if not 0 < args.graph_latency <= 5:
        parser.error("--graph-latency must be more than 0 and at most 5 seconds")
    return args


@dataclass
class Side:
    """One version of the service, with what it was given to work on."""

    name: str
    bench: Bench
    api: harness.Process
    http: httpx.Client
    rollout_id: str
    simulator: harness.Simulator
    blocks: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def measure(self, workload: str, call: Callable[[], int], count: int) -> None:
        """`count` calls of `call`, each saying how many requests it made; the CPU (the API
        process's) and wall time per request, in ms."""
        cpu, started = self.api.cpu_seconds(), time.perf_counter()
        requests = sum(call() for _ in range(count))
        wall = (time.perf_counter() - started) / requests * 1000
        self.blocks.setdefault(workload, []).append(
            ((self.api.cpu_seconds() - cpu) / requests * 1000, wall)
        )


def threads_of(pid: int) -> list[int]:
    """Every thread of a process (affinity is per thread)."""
    try:
        return [int(task) for task in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def pinned(service_pids: list[int], other_pids: list[int]) -> Iterator[None]:
    """Services on SERVICE_CPU, the others on OTHERS_CPU; every thread's CPUs restored at the
    end (PostgreSQL's processes serve more than this benchmark)."""
    before: dict[int, set[int]] = {}

    def pin(pid: int, cpu: int) -> None:
        for thread in threads_of(pid):
            with contextlib.suppress(OSError):
                before.setdefault(thread, os.sched_getaffinity(thread))
                os.sched_setaffinity(thread, {cpu})

    for pid in service_pids:
        pin(pid, SERVICE_CPU)
    for pid in other_pids:
        pin(pid, OTHERS_CPU)
    try:
        yield
    finally:
        for thread, cpus in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(thread, cpus)
        # PostgreSQL processes forked meanwhile inherited CPU 1 from the postmaster.
        everything = set(range(os.cpu_count() or 1))
        for pid in postgres_pids():
            for thread in set(threads_of(pid)) - before.keys():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread, everything)


def postgres_pids() -> list[int]:
    """PostgreSQL's server processes on this machine."""
    if shutil.which("pgrep") is None:
        return []
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def start_side(name: str, ref: str | None, args: argparse.Namespace, stack: Any) -> Side:
    """The service at `ref` (None: the working tree), its simulator, database and a rollout."""
    side_args = copy.copy(args)
    side_args.at_commit = ref
    side_args.json = None
    bench = stack.enter_context(Bench(f"compare-{name}", side_args))
    sim = bench.start_simulator(synchronous=True)
    database_url = bench.create_database()
    env = bench.service_env(database_url, sim, RUN_WORKER="true")
    bench.migrate(env)
    api, http = bench.start_api(env)
    created = harness.create_through_api(
        http, harness.device_ids(100), timeout=120, poll=0.1, name=f"compare {name}"
    )
    return Side(name, bench, api, http, created["rolloutId"], sim)


def workloads(args: argparse.Namespace) -> list[tuple[str, int, Callable[[Side], int]]]:
    """(name, calls per block, one call, which says how many requests it made) of each
    workload."""
    body = harness.rollout_body([], "compare create")
    del body["devices"]

    def post(side: Side) -> int:
        answer = side.http.post("/v1/rollouts", json=body)
        if answer.status_code != 201:
            raise harness.BenchError(f"POST /v1/rollouts: {answer.status_code} {answer.text}")
        return 1

    def get(side: Side) -> int:
        answer = side.http.get(f"/v1/rollouts/{side.rollout_id}")
        if answer.status_code != 200:
            raise harness.BenchError(f"GET /v1/rollouts/{{id}}: {answer.status_code}")
        return 1

    def create_and_add(side: Side) -> int:
        harness.create_through_api(
            side.http, harness.device_ids(args.devices), timeout=600, poll=0.1, name="compare"
        )
        return 1

    def readers(side: Side) -> int:
        side.simulator.faults(latencySeconds=args.graph_latency)
        try:
            load = asyncio.run(
                reads.readers_of(
                    str(side.http.base_url),
                    f"/v1/rollouts/{side.rollout_id}",
                    args.readers,
                    args.readers_seconds,
                )
            )
        finally:
            side.simulator.clear_faults()
        if load["statuses"].keys() != {"200"}:
            raise harness.BenchError(f"readers: {load['statuses']}")
        return int(load["completed"])

    chosen: list[tuple[str, int, Callable[[Side], int]]] = [
        ("POST /v1/rollouts, no devices", args.block, post),
        ("GET /v1/rollouts/{id}", args.block * 4, get),
    ]
    if args.devices:
        chosen.append((f"create + add {args.devices:,} devices", 1, create_and_add))
    if args.readers:
        latency = f"{args.graph_latency * 1000:g} ms"
        chosen.append((f"{args.readers} readers of that GET, Graph {latency}", 1, readers))
    return chosen


def summary(a: Side, b: Side, workload: str) -> dict[str, Any]:
    """Each side's medians over its blocks and B ÷ A's CPU per pair of blocks."""
    pairs = zip(a.blocks[workload], b.blocks[workload], strict=True)
    ratios = [b_cpu / a_cpu for (a_cpu, _), (b_cpu, _) in pairs]
    return {
        side.name: {
            "cpuMsPerCall": statistics.median(cpu for cpu, _ in side.blocks[workload]),
            "wallMsPerCall": statistics.median(wall for _, wall in side.blocks[workload]),
            "blocks": side.blocks[workload],
        }
        for side in (a, b)
    } | {"cpuRatios": ratios, "cpuRatioMedian": statistics.median(ratios)}


def main() -> int:
    args = parse_args()
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    with contextlib.ExitStack() as stack:
        a = start_side("A", args.a, args, stack)
        b = start_side("B", args.b, args, stack)
        for side in (a, b):
            version = side.bench.app_commit[:12] + (
                " + working-tree changes" if side.bench.app_dirty else ""
            )
            print(f"{side.name}: {version} (logs in {side.bench.tmp})", flush=True)
        if pin:
            os.sched_setaffinity(0, {OTHERS_CPU})
            services = [a.api.popen.pid, b.api.popen.pid]
            others = [*postgres_pids(), a.simulator.process.popen.pid]
            others.append(b.simulator.process.popen.pid)
            stack.enter_context(pinned(services, others))
        results: dict[str, Any] = {"pinned": pin, "workloads": {}}
        rows = []
        for name, count, call in workloads(args):
            for side in (a, b):  # warm-up, unmeasured
                for _ in range(min(count, 20)):
                    call(side)
            for _ in range(args.pairs):
                for side in (a, b):
                    side.measure(name, functools.partial(call, side), count)
            print(f"{name} done", flush=True)
            result = summary(a, b, name)
            results["workloads"][name] = result
            rows.append(
                [
                    name,
                    result["A"]["cpuMsPerCall"],
                    result["B"]["cpuMsPerCall"],
                    result["cpuRatioMedian"],
                    " ".join(f"{r:.2f}" for r in result["cpuRatios"]),
                    result["A"]["wallMsPerCall"],
                    result["B"]["wallMsPerCall"],
                ]
            )
        print_table(
            f"A = {a.bench.app_commit[:7]}, B = {b.bench.app_commit[:7]}"
            f"{' + working tree' if b.bench.app_dirty else ''}; {args.pairs} pairs of blocks,"
            f" {'services pinned to CPU 0' if pin else 'not pinned'} (ms per call)",
            ["workload", "A CPU", "B CPU", "B/A CPU", "B/A per pair", "A wall", "B wall"],
            rows,
        )
        results["commits"] = {"A": a.bench.app_commit, "B": b.bench.app_commit}
        results["workingTreeChanges"] = b.bench.app_dirty
        path = write_results(a.bench, args, results)
        print(f"\nresults: {path}")
    return 0


def write_results(bench: Bench, args: argparse.Namespace, results: dict[str, Any]) -> Path:
    """The results as JSON, where --json says (default bench/results/compare-<time>.json)."""
    bench.args = copy.copy(bench.args)
    bench.args.json = args.json
    bench.name = "compare"
    return bench.write_results(results)


if __name__ == "__main__":
    harness.run_main(main)
