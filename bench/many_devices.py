"""Benchmark 2: one rollout with many devices through `/v1` while Graph is slow and throttles.

The API runs with RUN_WORKER=false and one `python -m app worker` process does the work, as in
a cluster; Graph is the standalone simulator over TLS (synchronous) with `--latency` seconds
added to every Graph call and `--throttle` of them answered 429 (Retry-After: the simulator's
default, 1 s, unless --retry-after). POST /v1/rollouts with N devices, then poll the operation
until it has finished. Reported: wall time against the ideal, calls x latency / GRAPH_CONCURRENCY
(calls = every Graph call the simulator received, 429s included; target <= 1.3x), and the
worker's peak RSS sampled with psutil (target <= 300 MB).

    .venv/bin/python bench/many_devices.py --devices 100000 --latency 0.02 --throttle 0.05
"""

from __future__ import annotations

import argparse
import time

import harness
from harness import Bench, PeakSampler, print_table, verdict

TARGET_RATIO = 1.3
TARGET_RSS_MB = 300.0
MB = 1024 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the rollout")
    harness.graph_fault_arguments(parser)
    parser.add_argument(
        "--graph-concurrency",
        type=int,
        help="set GRAPH_CONCURRENCY for the service (default: unset, the service's default of"
        f" {harness.GRAPH_CONCURRENCY_DEFAULT}); the ideal divides by it",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for the run")
    parser.add_argument("--poll", type=float, default=0.5, help="operation poll interval (s)")
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.devices <= 100_000:
        parser.error("--devices must be 1-100000 (one request)")
    if not 0 <= args.throttle < 1 or args.latency < 0:
        parser.error("--throttle must be in [0, 1) and --latency >= 0")
    return args


def main() -> int:
    args = parse_args()
    concurrency = args.graph_concurrency or harness.GRAPH_CONCURRENCY_DEFAULT
    with Bench("many_devices", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        extra = {"GRAPH_CONCURRENCY": str(args.graph_concurrency)} if args.graph_concurrency else {}
        database = bench.create_database()
        env = bench.service_env(database, sim, **extra)
        bench.migrate(env)
        api, http = bench.start_api({**env, "RUN_WORKER": "false"})
        worker = bench.start_worker(env)
        bench.announce()

        harness.warm_up(http)  # without faults

        settings = harness.slow_graph(sim, args)
        devices = harness.device_ids(args.devices)
        worker_rss_before = worker.rss()
        worker_cpu_before, api_cpu_before = worker.cpu_seconds(), api.cpu_seconds()
        sim_cpu_before, pg_before = sim.process.cpu_seconds(), bench.postgres_cpu_seconds()
        with PeakSampler(worker, every=0.1) as worker_peak, PeakSampler(api, every=0.2) as api_peak:
            run = harness.create_through_api(
                http, devices, timeout=args.timeout, poll=args.poll, name="bench many devices"
            )
        sim_cpu = sim.process.cpu_seconds() - sim_cpu_before
        pg_cpu = bench.postgres_cpu_seconds() - pg_before
        counters = sim.counters()
        member_pages = len(
            sim.admin.get("/_simulator/calls?method=GET&pathContains=/members").json()["value"]
        )
        token_calls = len(sim.admin.get("/_simulator/calls?pathContains=oauth2").json()["value"])
        sim.clear_faults()
        phases = operation_phases(bench, database, run["operationId"])

        # What one poll of the finished operation costs (callers poll it the whole time).
        pg_poll_before, polls = bench.postgres_cpu_seconds(), []
        for _ in range(20):
            started = time.perf_counter()
            http.get(f"/v1/operations/{run['operationId']}").raise_for_status()
            polls.append((time.perf_counter() - started) * 1000)
        pg_per_poll = (bench.postgres_cpu_seconds() - pg_poll_before) / len(polls) * 1000

        graph_calls = counters["calls"] - token_calls
        throttled = counters["byStatus"].get("429", 0)
        ideal = graph_calls * args.latency / concurrency
        sequential = graph_calls * args.latency
        # A reference the target leaves out: member pages follow one another (each page's
        # @odata.nextLink is known only when it arrives), and each 429 holds every call back
        # for Retry-After.
        writes = graph_calls - member_pages
        paged = (member_pages + writes / concurrency) * args.latency
        paused = throttled * float(settings.get("retryAfterSeconds") or 0)
        ratio = run["seconds"] / ideal if ideal else float("nan")
        # The simulator serves one request at a time per CPU slice; its own CPU time (chiefly
        # rendering member pages as JSON) is time real Graph would not add on top of the
        # latency. Without it: an estimate of the service against Graph at exactly latency.
        adjusted = (run["seconds"] - sim_cpu) / ideal if ideal else float("nan")
        peak_mb = worker_peak.peak / MB
        summary = {
            "devices": args.devices,
            "latencySeconds": args.latency,
            "throttleRate": args.throttle,
            "retryAfterSeconds": settings.get("retryAfterSeconds"),
            "graphConcurrency": concurrency,
            "status": run["status"],
            "succeeded": run["succeeded"],
            "failed": run["failed"],
            "seconds": run["seconds"],
            "postSeconds": run["postSeconds"],
            "graphCalls": graph_calls,
            "graphCallsByStatus": counters["byStatus"],
            "throttled": throttled,
            "idealSeconds": ideal,
            "sequentialSeconds": sequential,
            "idealWithSequentialPagesSeconds": paged,
            "throttlePauseSeconds": paused,
            "ratio": ratio,
            "ratioTarget": TARGET_RATIO,
            "ratioMet": ratio <= TARGET_RATIO,
            "simulatorCpuSeconds": sim_cpu,
            "postgresCpuSeconds": pg_cpu,
            "memberPageReads": member_pages,
            "pageSize": args.page_size,
            "ratioWithoutSimulatorCpu": adjusted,
            "workerPeakRssMB": peak_mb,
            "workerRssBeforeMB": worker_rss_before / MB,
            "workerRssSamples": worker_peak.samples,
            "rssTargetMB": TARGET_RSS_MB,
            "rssMet": peak_mb <= TARGET_RSS_MB,
            "workerCpuSeconds": worker.cpu_seconds() - worker_cpu_before,
            "apiCpuSeconds": api.cpu_seconds() - api_cpu_before,
            "apiPeakRssMB": api_peak.peak / MB,
            "operationGetP50Ms": harness.median(polls),
            "operationGetPostgresCpuMs": pg_per_poll,
            "phaseSeconds": phases,
        }
        if run["status"] != "succeeded" or run["succeeded"] != args.devices:
            print(
                f"warning: the operation ended {run['status']} with {run['succeeded']} of"
                f" {args.devices} devices and {run['failed']} failed"
            )
        print_table(
            f"one rollout of {args.devices:,} devices through /v1, Graph latency"
            f" {args.latency * 1000:g} ms, {args.throttle:.0%} throttled,"
            f" GRAPH_CONCURRENCY {concurrency}",
            ["", "value", "target", "verdict"],
            [
                ["operation", f"{run['status']} {run['succeeded']}/{args.devices}", "", ""],
                ["wall seconds (POST to finishedAt)", run["seconds"], "", ""],
                ["  of which POST /v1/rollouts", run["postSeconds"], "", ""],
                ["  sending (first write to last answer)", phases["sending"], "", ""],
                ["  reading the audience back, settling", phases["reading"], "", ""],
                [f"Graph calls (429: {throttled})", graph_calls, "", ""],
                ["ideal seconds (calls x latency / conc.)", ideal, "", ""],
                ["one call at a time (calls x latency)", sequential, "", ""],
                ["ideal with member pages in sequence", paged, "", ""],
                ["  plus 429s x Retry-After", paged + paused, "", ""],
                [
                    "wall / ideal",
                    ratio,
                    f"<= {TARGET_RATIO:g}",
                    verdict(ratio, TARGET_RATIO, at_most=True),
                ],
                ["simulator CPU seconds", sim_cpu, "", ""],
                [f"  member pages read: {member_pages}", "", "", ""],
                ["(wall - simulator CPU) / ideal, estimate", adjusted, "", ""],
                [
                    "worker peak RSS MB",
                    peak_mb,
                    f"<= {TARGET_RSS_MB:g}",
                    verdict(peak_mb, TARGET_RSS_MB, at_most=True),
                ],
                ["worker RSS before MB", summary["workerRssBeforeMB"], "", ""],
                ["PostgreSQL CPU seconds", pg_cpu, "", ""],
                ["worker CPU seconds", summary["workerCpuSeconds"], "", ""],
                [
                    "GET /v1/operations/{id} afterwards, p50 ms",
                    summary["operationGetP50Ms"],
                    "",
                    "",
                ],
                ["  PostgreSQL CPU ms per GET", pg_per_poll, "", ""],
                [
                    "API CPU seconds / peak RSS MB",
                    f"{summary['apiCpuSeconds']:.1f} / {summary['apiPeakRssMB']:.0f}",
                    "",
                    "",
                ],
            ],
        )
        path = bench.write_results({"summary": summary, "run": run})
        print(f"\nresults: {path}")
    return 0


def operation_phases(bench: Bench, database: str, operation_id: str) -> dict[str, float]:
    """Seconds the operation spent sending its chunks (from its start to its first reading of
    Graph) and reading the audience back until it finished, from its own timestamps."""
    [(sending, reading)] = bench.sql(
        database,
        "SELECT extract(epoch FROM confirming_since - started_at),"
        " extract(epoch FROM finished_at - confirming_since) FROM operations WHERE id = %s",
        [operation_id],
    )
    return {"sending": float(sending), "reading": float(reading)}


if __name__ == "__main__":
    harness.run_main(main)
