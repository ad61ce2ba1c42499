"""Benchmark: throughput under a real load tool (locust, headless).

`python -m app serve` (one uvicorn process, its in-process worker) on a loopback port against
the simulator, with caller authentication on: two API keys made by `python -m app new-api-key`
(a reader for the reads, an operator for the creates). RATE_LIMIT_PER_MINUTE is 0 (no limit)
for the run: one key per phase drives every request. Then, one phase after the other, --users
locust users (default 50, all started in the first second, no think time) for --duration
seconds (default 30):

1. GET /v1/rollouts/{id} of one rollout of 100 devices;
2. POST /v1/rollouts with a small valid body (Windows 11 24H2, --create-devices devices).

Reported per phase: requests/s, p50/p99/max (locust's figures), failures (target 0), and the
database connections the service held (pg_stat_activity of the benchmark's database, sampled
every 0.25 s) against its pool (10 + 10 overflow per process), with any pool or connection
error found in the service's log and every 5xx counted by its /metrics.

    .venv/bin/python bench/throughput.py                # ~2 min
    .venv/bin/python bench/throughput.py --users 10 --duration 10
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import harness
import psycopg
from harness import REPO, Bench, print_table

LOCUSTFILE = REPO / "bench" / "locustfile.py"
POOL_LIMIT = 20  # app/db.py: pool_size 10 + max_overflow 10
# What the service's log says when its pool or the server runs out of connections.
POOL_ERRORS = re.compile(
    r"QueuePool limit|TimeoutError|too many clients|remaining connection slots|"
    r"PoolTimeout|connection refused|OperationalError",
    re.IGNORECASE,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent locust users")
    parser.add_argument("--duration", type=int, default=30, help="seconds per phase")
    parser.add_argument("--create-devices", type=int, default=2, help="devices per create")
    parser.add_argument(
        "--phases", default="read,create", help="comma-separated: read, create (in that order)"
    )
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 5 <= args.duration <= 300:
        parser.error("--users 1-200, --duration 5-300 s")
    if not 0 <= args.create_devices <= 100:
        parser.error("--create-devices 0-100")
    if not set(args.phases.split(",")) <= {"read", "create"}:
        parser.error("--phases: read, create")
    return args


def new_api_key(bench: Bench, name: str, role: str) -> tuple[str, str]:
    """`python -m app new-api-key`: the key and its API_KEYS entry."""
    done = subprocess.run(
        [harness.PYTHON, "-m", "app", "new-api-key", "--name", name, "--role", role],
        cwd=bench.app_dir,
        env=harness._clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    key = entry = ""
    for line in done.stdout.splitlines():
        if line.startswith("key"):
            key = line.rsplit(" ", 1)[-1]
        elif line.startswith("API_KEYS entry"):
            entry = line.rsplit(" ", 1)[-1]
    if done.returncode != 0 or not key or not entry:
        raise harness.BenchError(f"new-api-key: {done.stdout} {done.stderr}")
    return key, entry


class ConnectionSampler(harness.Sampler):
    """Counts the benchmark database's connections (by state) every 0.25 s in a thread."""

    def __init__(self, database_url: str) -> None:
        super().__init__(0.25)
        self.url = harness._libpq(database_url)
        self.database = database_url.rsplit("/", 1)[1]
        self.peak = 0
        self.peak_active = 0
        self._conn: psycopg.Connection[Any] | None = None

    def sample(self) -> None:
        if self._conn is None:
            self._conn = psycopg.connect(self.url, autocommit=True)
        rows = self._conn.execute(
            "SELECT state, count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() GROUP BY state",
            (self.database,),
        ).fetchall()
        total = sum(int(n) for _, n in rows)
        active = sum(int(n) for state, n in rows if state == "active")
        self.peak = max(self.peak, total)
        self.peak_active = max(self.peak_active, active)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self._conn is not None:
            self._conn.close()


def locust_stats(prefix: Path, name: str) -> dict[str, Any]:
    """The row of locust's `<prefix>_stats.csv` for the request `name`."""
    with (prefix.parent / f"{prefix.name}_stats.csv").open(newline="") as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == name:
                return {
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "requestsPerSecond": float(row["Requests/s"]),
                    "p50Ms": float(row["50%"]),
                    "p90Ms": float(row["90%"]),
                    "p99Ms": float(row["99%"]),
                    "maxMs": float(row["Max Response Time"]),
                    "averageMs": float(row["Average Response Time"]),
                }
    raise harness.BenchError(f"no {name!r} row in locust's statistics")


def server_errors(metrics_text: str) -> dict[str, float]:
    """5xx answers by route, from autopatch_http_requests_total."""
    found: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith("autopatch_http_requests_total{") and 'status="5' in line:
            labels, value = line.rsplit(" ", 1)
            found[labels] = float(value)
    return found


def run_phase(
    bench: Bench,
    args: argparse.Namespace,
    api: harness.Process,
    url: str,
    database_url: str,
    user_class: str,
    request_name: str,
    env: dict[str, str],
) -> dict[str, Any]:
    prefix = bench.tmp / f"locust-{user_class}"
    log_before = api.log.stat().st_size
    cpu_before = api.cpu_seconds()
    argv = ["-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
    argv += ["-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s"]
    argv += ["--stop-timeout", "10", "--host", url, "--csv", str(prefix), user_class]
    with ConnectionSampler(database_url) as connections:
        started = time.perf_counter()
        process = bench.start(f"locust-{user_class}", argv, env)
        locust_cpu = 0.0
        try:
            while process.alive():
                locust_cpu = process.cpu_seconds()
                time.sleep(0.5)
                if time.perf_counter() - started > args.duration + 90:
                    raise harness.BenchError(f"locust still running: {process.tail()}")
        finally:
            process.stop()
        wall = time.perf_counter() - started
    if process.popen.returncode not in (0, 1):  # 1: some requests failed (reported below)
        raise harness.BenchError(f"locust exited {process.popen.returncode}: {process.tail()}")
    with api.log.open("rb") as log:
        log.seek(log_before)
        new_lines = log.read().decode("utf-8", "replace").splitlines()
    pool_lines = [line for line in new_lines if POOL_ERRORS.search(line)]
    return {
        "userClass": user_class,
        "locust": locust_stats(prefix, request_name),
        "wallSeconds": wall,
        "apiCpuSeconds": api.cpu_seconds() - cpu_before,
        "locustCpuSeconds": locust_cpu,
        "databaseConnectionsPeak": connections.peak,
        "databaseConnectionsActivePeak": connections.peak_active,
        "connectionSamples": connections.samples,
        "poolErrorLogLines": len(pool_lines),
        "poolErrorExamples": pool_lines[:3],
        "apiLogLines": len(new_lines),
    }


def main() -> int:
    args = parse_args()
    with Bench("throughput", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        database_url = bench.create_database()
        read_key, read_entry = new_api_key(bench, "locust-reader", "reader")
        write_key, write_entry = new_api_key(bench, "locust-operator", "operator")
        env = bench.service_env(database_url, sim, RUN_WORKER="true")
        env["API_KEYS"] = ",".join((env["API_KEYS"], read_entry, write_entry))
        env["RATE_LIMIT_PER_MINUTE"] = "0"  # said in the results: no limit during the run
        bench.migrate(env)
        api, http = bench.start_api(env)
        bench.announce()
        created = harness.create_through_api(
            http, harness.device_ids(100), timeout=120, poll=0.1, name="bench locust read"
        )
        locust_env = harness._clean_env()
        locust_env.update(
            BENCH_READ_KEY=read_key,
            BENCH_WRITE_KEY=write_key,
            BENCH_ROLLOUT_ID=created["rolloutId"],
            BENCH_CREATE_DEVICES=",".join(harness.device_ids(args.create_devices, seed=7)),
        )
        url = str(http.base_url).rstrip("/")
        phases: dict[str, Any] = {}
        for phase in args.phases.split(","):
            user_class, name = {
                "read": ("ReadRollout", "GET /v1/rollouts/{id}"),
                "create": ("CreateRollout", "POST /v1/rollouts"),
            }[phase]
            rollouts_before = bench.sql(database_url, "SELECT count(*) FROM rollouts")[0][0]
            phases[phase] = run_phase(
                bench, args, api, url, database_url, user_class, name, locust_env
            )
            phases[phase]["rolloutsCreated"] = (
                bench.sql(database_url, "SELECT count(*) FROM rollouts")[0][0] - rollouts_before
            )
            print(f"{phase}: {phases[phase]['locust']}", flush=True)
        metrics = http.get("/metrics")
        errors_5xx = server_errors(metrics.text) if metrics.status_code == 200 else {}
        server = bench.sql(database_url, "SHOW max_connections")[0][0]
        rows = [
            [
                name,
                p["locust"]["requestsPerSecond"],
                p["locust"]["p50Ms"],
                p["locust"]["p99Ms"],
                p["locust"]["maxMs"],
                f"{p['locust']['failures']}/{p['locust']['requests']}",
                f"{p['databaseConnectionsPeak']} ({p['databaseConnectionsActivePeak']} active)",
                p["poolErrorLogLines"],
            ]
            for name, p in phases.items()
        ]
        print_table(
            f"{args.users} locust users, {args.duration} s per phase, authentication on,"
            " no rate limit (ms)",
            ["", "req/s", "p50", "p99", "max", "failed", "DB conns peak", "pool errors"],
            rows,
        )
        print(f"5xx answers counted by /metrics: {sum(errors_5xx.values()):.0f}")
        path = bench.write_results(
            {
                "users": args.users,
                "durationSeconds": args.duration,
                "rateLimitPerMinute": 0,
                "authentication": "API keys (reader for reads, operator for creates)",
                "createDevices": args.create_devices,
                "phases": phases,
                "serverErrorsByMetrics": errors_5xx,
                "databaseMaxConnections": int(server),
                "poolLimitPerProcess": POOL_LIMIT,
                "readRollout": created,
            }
        )
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
