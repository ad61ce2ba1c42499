"""Benchmark 1: create a rollout and add N devices, end to end through `/v1`, against the same
Graph calls made directly with httpx, in the same run, against the same simulator.

Through the service: POST /v1/rollouts with `devices`, then GET /v1/operations/{id} until it
has finished (a real `python -m app serve` with its in-process worker, PostgreSQL, Graph = the
standalone simulator over TLS in synchronous mode). Directly: create audience, create
deployment, per chunk of 200 enrollAssets then updateAudience, then read the members back.
Runs alternate (service, direct, service, direct, ...) after one small warm-up of each; the
medians, their ratio (target <= 2x) and the service's CPU seconds per device are reported.
With --sdk, a third contestant makes the same Graph calls with Microsoft's Graph SDK for
Python (bench/sdk_graph.py, which says how to install it), in turn with the other two.

    .venv/bin/python bench/create_and_add.py --devices 10000 --runs 3 [--sdk]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import harness
from harness import Bench, DirectGraph, median, print_table, verdict
from sdk_graph import SdkGraph, require_sdk

TARGET_RATIO = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000, help="devices per rollout")
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each (R)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per run")
    parser.add_argument("--poll", type=float, default=0.25, help="operation poll interval (s)")
    parser.add_argument(
        "--sdk",
        action="store_true",
        help="also make the Graph calls with Microsoft's Graph SDK (msgraph-beta-sdk)",
    )
    harness.fleet_argument(parser)
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.devices <= 100_000 or not 1 <= args.runs <= 20:
        parser.error("--devices must be 1-100000 (one request) and --runs 1-20")
    return args


def run_service(
    bench: Bench,
    bench_api: Any,
    http: Any,
    sim: harness.Simulator,
    devices: list[str],
    label: str,
) -> dict[str, Any]:
    args = bench.args
    sim.forget_calls()
    cpu_before, sim_before = bench_api.cpu_seconds(), sim.process.cpu_seconds()
    pg_before = bench.postgres_cpu_seconds()
    result = harness.create_through_api(
        http, devices, timeout=args.timeout, poll=args.poll, name=f"bench {label}"
    )
    result["cpuSeconds"] = bench_api.cpu_seconds() - cpu_before
    result["simulatorCpuSeconds"] = sim.process.cpu_seconds() - sim_before
    result["postgresCpuSeconds"] = bench.postgres_cpu_seconds() - pg_before
    result["graphCalls"] = sim.counters()["calls"]
    if result["status"] != "succeeded" or result["succeeded"] != len(devices):
        raise harness.BenchError(f"the operation did not add every device: {result}")
    return result


def run_direct(
    direct: DirectGraph | SdkGraph, sim: harness.Simulator, devices: list[str]
) -> dict[str, Any]:
    """One rollout made straight against Graph (httpx, or the SDK), timed."""
    sim.forget_calls()
    sim_before, cpu_before = sim.process.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    deployment, members = direct.create_rollout(devices)
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_before
    if members != len(devices):
        raise harness.BenchError(f"Graph lists {members} members, not {len(devices)}")
    return {
        "graphDeploymentId": deployment,
        "members": members,
        "seconds": seconds,
        "writeSeconds": direct.last_write_seconds,
        "readBackSeconds": seconds - direct.last_write_seconds,
        "simulatorCpuSeconds": sim.process.cpu_seconds() - sim_before,
        "clientCpuSeconds": client_cpu,
        "graphCalls": sim.counters()["calls"],
    }


def sdk_rows(summary: dict[str, Any], sdk_runs: list[dict[str, Any]]) -> list[list[Any]]:
    """The table's rows for the Graph SDK contestant (none without --sdk)."""
    if not sdk_runs:
        return []
    return [
        [
            "Graph SDK (msgraph-beta-sdk)",
            summary["sdkMedianSeconds"],
            sdk_runs[0]["graphCalls"],
            median([r["simulatorCpuSeconds"] for r in sdk_runs]),
            "",
            "",
        ],
        ["  client CPU seconds", summary["sdkClientCpuSecondsMedian"]] + [""] * 4,
        ["ratio service / SDK", summary["ratioServiceToSdk"]] + [""] * 4,
        ["ratio SDK / direct", summary["ratioSdkToDirect"]] + [""] * 4,
    ]


def main() -> int:
    args = parse_args()
    if args.sdk:
        require_sdk()
    with Bench("create_and_add", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        database = bench.create_database()
        env = bench.service_env(database, sim, RUN_WORKER="true")
        bench.migrate(env)
        fleet = bench.preload_fleet(database, args.fleet)
        api, http = bench.start_api(env)
        direct = DirectGraph(sim)
        bench.clients.append(direct)
        bench.announce()

        sdk = SdkGraph(sim, direct.catalog_entry_id) if args.sdk else None
        if sdk is not None:
            bench.clients.append(sdk)

        # Warm-up (not counted): token, catalog cache, connections, imports, first queries.
        run_service(bench, api, http, sim, harness.device_ids(50), "warm-up")
        run_direct(direct, sim, harness.device_ids(50))
        if sdk is not None:
            run_direct(sdk, sim, harness.device_ids(50))

        service_runs: list[dict[str, Any]] = []
        direct_runs: list[dict[str, Any]] = []
        sdk_runs: list[dict[str, Any]] = []
        for run in range(args.runs):
            service_runs.append(
                run_service(bench, api, http, sim, harness.device_ids(args.devices), f"#{run}")
            )
            direct_runs.append(run_direct(direct, sim, harness.device_ids(args.devices)))
            if sdk is not None:
                sdk_runs.append(run_direct(sdk, sim, harness.device_ids(args.devices)))
            print(
                f"run {run + 1}/{args.runs}: service {service_runs[-1]['seconds']:.2f} s,"
                f" direct {direct_runs[-1]['seconds']:.2f} s"
                + (f", SDK {sdk_runs[-1]['seconds']:.2f} s" if sdk_runs else ""),
                flush=True,
            )

        service_s = median([r["seconds"] for r in service_runs])
        direct_s = median([r["seconds"] for r in direct_runs])
        ratio = service_s / direct_s
        cpu = median([r["cpuSeconds"] for r in service_runs])
        cpu_per_device = cpu / args.devices
        sim_service = median([r["simulatorCpuSeconds"] for r in service_runs])
        sim_direct = median([r["simulatorCpuSeconds"] for r in direct_runs])
        summary = {
            "devices": args.devices,
            "runs": args.runs,
            "pageSize": args.page_size,
            "fleet": fleet,
            "serviceMedianSeconds": service_s,
            "directMedianSeconds": direct_s,
            "directWriteMedianSeconds": median([r["writeSeconds"] for r in direct_runs]),
            "directReadBackMedianSeconds": median([r["readBackSeconds"] for r in direct_runs]),
            "addedSeconds": service_s - direct_s,
            "ratio": ratio,
            "ratioTarget": TARGET_RATIO,
            "ratioMet": ratio <= TARGET_RATIO,
            "serviceCpuSecondsMedian": cpu,
            "serviceCpuSecondsPerDevice": cpu_per_device,
            "postgresCpuSecondsMedian": median([r["postgresCpuSeconds"] for r in service_runs]),
            "servicePostSecondsMedian": median([r["postSeconds"] for r in service_runs]),
            "simulatorCpuSecondsServiceRunsMedian": sim_service,
            "simulatorCpuSecondsDirectRunsMedian": sim_direct,
            "directClientCpuSecondsMedian": median([r["clientCpuSeconds"] for r in direct_runs]),
        }
        if sdk_runs:
            sdk_s = median([r["seconds"] for r in sdk_runs])
            summary |= {
                "sdkMedianSeconds": sdk_s,
                "sdkClientCpuSecondsMedian": median([r["clientCpuSeconds"] for r in sdk_runs]),
                "ratioServiceToSdk": service_s / sdk_s,
                "ratioSdkToDirect": sdk_s / direct_s,
            }
        print_table(
            f"create a rollout and add {args.devices:,} devices"
            f" (median of {args.runs} runs each, Graph latency 0, synchronous"
            + (f", {args.fleet:,} devices recorded before" if args.fleet else "")
            + ")",
            ["", "seconds", "Graph calls", "simulator CPU s", "target", "verdict"],
            [
                [
                    "through /v1 (service)",
                    service_s,
                    service_runs[0]["graphCalls"],
                    sim_service,
                    "",
                    "",
                ],
                [
                    "  of which POST /v1/rollouts",
                    summary["servicePostSecondsMedian"],
                    "",
                    "",
                    "",
                    "",
                ],
                ["direct httpx", direct_s, direct_runs[0]["graphCalls"], sim_direct, "", ""],
                [
                    "  of which reading members back",
                    summary["directReadBackMedianSeconds"],
                    "",
                    "",
                    "",
                    "",
                ],
                ["added by the service", summary["addedSeconds"], "", "", "", ""],
                [
                    "ratio service / direct",
                    ratio,
                    "",
                    "",
                    f"<= {TARGET_RATIO:g}",
                    verdict(ratio, TARGET_RATIO, at_most=True),
                ],
                ["service CPU seconds", cpu, "", "", "", ""],
                ["service CPU ms / 1,000 devices", cpu_per_device * 1e6, "", "", "", ""],
                [
                    "PostgreSQL CPU seconds (service)",
                    summary["postgresCpuSecondsMedian"],
                    "",
                    "",
                    "",
                    "",
                ],
                ["direct httpx: client CPU seconds", summary["directClientCpuSecondsMedian"]]
                + [""] * 4,
                *sdk_rows(summary, sdk_runs),
            ],
        )
        path = bench.write_results(
            {
                "summary": summary,
                "serviceRuns": service_runs,
                "directRuns": direct_runs,
                "sdkRuns": sdk_runs,
            }
        )
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
