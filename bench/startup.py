"""Benchmark: start-up time to `/readyz` ready, and idle memory of the API and of a worker.

Each case is started --runs times (default 3); the time runs from starting the process to the
first `GET /readyz` that answers 200 (polled every 20 ms); the process's RSS is taken then and
again after --settle idle seconds (default 10), and the process is stopped with SIGTERM.

- embedded, first start: DATABASE_URL unset, a fresh DATA_DIR in a temporary folder, nothing
  else configured (the built-in simulator, no caller authentication): the service initialises
  and starts its embedded PostgreSQL and migrates it before it is ready;
- embedded, restart: the same DATA_DIR again (already initialised and migrated);
- external database: DATABASE_URL at a throwaway database on --admin-url (migrated once
  beforehand with `python -m app migrate`, as in production), Graph = the simulator run on its
  own over TLS, API keys on; `serve` with its in-process worker, then with RUN_WORKER=false
  (the API alone);
- worker: `python -m app worker` on the external database, until its log says it started.

    .venv/bin/python bench/startup.py               # ~2 min
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

import harness
import httpx
import psutil
from harness import Bench, median, print_table

MB = 1024 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="starts per case")
    parser.add_argument("--settle", type=float, default=10, help="idle seconds before RSS")
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.runs <= 10 or not 0 <= args.settle <= 120:
        parser.error("--runs 1-10, --settle 0-120 s")
    return args


def postgres_under(pgdata: Path) -> list[psutil.Process]:
    """The PostgreSQL processes serving `pgdata` (the embedded server the service started)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "postgres" not in (process.info["name"] or ""):
                continue
            if str(pgdata) in " ".join(process.info["cmdline"] or []) or process.cwd().startswith(
                str(pgdata)
            ):
                found.append(process)
    return found


def rss_of(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def start_serve(
    bench: Bench, name: str, env: dict[str, str], settle: float, pgdata: Path | None = None
) -> dict[str, Any]:
    """Start `serve`, time it to /readyz 200, take its RSS then and after `settle` s, stop it."""
    port = harness.free_port()
    started = time.perf_counter()
    process = bench.start(name, ["-m", "app", "serve", "--port", str(port)], env)
    ready_after: float | None = None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        deadline = started + 180
        while time.perf_counter() < deadline:
            if not process.alive():
                raise harness.BenchError(f"{name} exited: {process.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if http.get("/readyz").status_code == 200:
                    ready_after = time.perf_counter() - started
                    break
            time.sleep(0.02)
        if ready_after is None:
            raise harness.BenchError(f"{name}: /readyz not 200 after 180 s: {process.tail()}")
        rss_ready = process.rss()
        time.sleep(settle)
        rss_idle = process.rss()
        postgres_rss = rss_of(postgres_under(pgdata)) if pgdata else None
    stop_started = time.perf_counter()
    process.stop()
    result = {
        "readySeconds": ready_after,
        "rssAtReadyBytes": rss_ready,
        "rssIdleBytes": rss_idle,
        "stopSeconds": time.perf_counter() - stop_started,
        "exitCode": process.popen.returncode,
    }
    if pgdata is not None:
        result["embeddedPostgresRssBytes"] = postgres_rss
        time.sleep(1)
        left = postgres_under(pgdata)
        result["embeddedPostgresLeftRunning"] = len(left)
        for leftover in left:  # the service should have stopped it; never leave one behind
            with contextlib.suppress(psutil.Error):
                leftover.terminate()
    return result


def start_worker(bench: Bench, name: str, env: dict[str, str], settle: float) -> dict[str, Any]:
    started = time.perf_counter()
    # Its /metrics on a free port: the default (9102) may be taken on this machine.
    env = {**env, "WORKER_METRICS_PORT": str(harness.free_port())}
    process = bench.start(name, ["-m", "app", "worker"], env)
    harness.wait_until(
        lambda: bench.log_says(process, "worker started"),
        180,
        "the worker",
        every=0.02,
    )
    ready_after = time.perf_counter() - started
    rss_ready = process.rss()
    time.sleep(settle)
    rss_idle = process.rss()
    process.stop()
    return {
        "readySeconds": ready_after,
        "rssAtReadyBytes": rss_ready,
        "rssIdleBytes": rss_idle,
        "exitCode": process.popen.returncode,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "readySecondsMedian": median([r["readySeconds"] for r in runs]),
        "readySeconds": [r["readySeconds"] for r in runs],
        "rssIdleMbMedian": median([r["rssIdleBytes"] / MB for r in runs]),
        "runs": runs,
    }


def main() -> int:
    args = parse_args()
    with Bench("startup", args) as bench:
        cases: dict[str, Any] = {}
        # Embedded: nothing configured but where the data lives.
        data_dir = bench.tmp / "data"
        pgdata = (data_dir / "postgres").resolve()
        embedded_env = harness._clean_env()
        embedded_env.update(DATA_DIR=str(data_dir), LOG_FORMAT="json")
        embedded_env.setdefault("XDG_RUNTIME_DIR", str(bench.tmp))
        first = start_serve(bench, "embedded-first", embedded_env, args.settle, pgdata)
        cases["embeddedFirstStart"] = summarise([first])
        print(f"embedded, first start: {first['readySeconds']:.2f} s", flush=True)
        restarts = [
            start_serve(bench, f"embedded-restart-{n}", embedded_env, args.settle, pgdata)
            for n in range(args.runs)
        ]
        cases["embeddedRestart"] = summarise(restarts)
        print(f"embedded, restart: {cases['embeddedRestart']['readySeconds']}", flush=True)

        sim = bench.start_simulator(synchronous=True)
        database_url = bench.create_database()
        env = bench.service_env(database_url, sim, RUN_WORKER="true")
        bench.migrate(env)
        cases["externalWithWorker"] = summarise(
            [start_serve(bench, f"external-{n}", env, args.settle) for n in range(args.runs)]
        )
        api_only = {**env, "RUN_WORKER": "false"}
        cases["externalApiOnly"] = summarise(
            [
                start_serve(bench, f"external-api-{n}", api_only, args.settle)
                for n in range(args.runs)
            ]
        )
        cases["worker"] = summarise(
            [start_worker(bench, f"worker-{n}", env, args.settle) for n in range(args.runs)]
        )
        rows = []
        labels = {
            "embeddedFirstStart": "serve, embedded PostgreSQL, first start (initdb + migrate)",
            "embeddedRestart": "serve, embedded PostgreSQL, restart",
            "externalWithWorker": "serve, external database (worker inside)",
            "externalApiOnly": "serve, external database, RUN_WORKER=false",
            "worker": "worker (python -m app worker), to 'worker started'",
        }
        for key, label in labels.items():
            case = cases[key]
            ready = case["readySeconds"]
            rows.append(
                [
                    label,
                    case["readySecondsMedian"],
                    f"{min(ready):.2f}-{max(ready):.2f}",
                    case["rssIdleMbMedian"],
                ]
            )
        print_table(
            f"start-up to ready (s; median of {args.runs}) and idle RSS (MB, after"
            f" {args.settle:g} s idle)",
            ["", "ready s", "range", "idle RSS MB"],
            rows,
        )
        embedded_pg = first.get("embeddedPostgresRssBytes") or 0
        print(f"embedded PostgreSQL processes' RSS (sum) at first start: {embedded_pg / MB:.0f} MB")
        path = bench.write_results({"cases": cases, "pid": os.getpid()})
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
