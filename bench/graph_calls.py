"""Benchmark: what one Graph call costs the service's Graph client, against httpx's own transport.

The client the service builds for live Graph (`app.graph.http_client`: CookielessClient over
AsyncioTransport) and the same client over httpx's own transport (httpcore, h11, anyio) make the
same calls to the simulator over TLS on uvloop (the loop `serve` and `worker` run on), one at a
time, in alternating blocks: GET of a deployment, and enrollAssets of 200 devices. Reported per
call: the client process's CPU and the wall time, medians over the blocks.

The measuring client runs in a process of its own, importing the service's code from
`--at-commit` when given (else from the working tree).

    .venv/bin/python bench/graph_calls.py --calls 1000 --blocks 6
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness
from harness import ACTION, GRAPH_ROOT, NS, Bench, DirectGraph, median, print_table

CONTESTANTS = ("service", "httpx")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls of each kind per block")
    parser.add_argument("--blocks", type=int, default=6, help="blocks per contestant")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the measuring process's input
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 10 <= args.calls <= 100_000 or not 1 <= args.blocks <= 100:
        parser.error("--calls must be 10..100000 and --blocks 1..100")
    return args


async def measure(setup: dict[str, Any]) -> dict[str, Any]:
    """In the measuring process: the blocks of calls, alternating contestants."""
    import httpx

    from app.graph.http_client import AsyncioTransport, CookielessClient

    context = ssl.create_default_context(cafile=setup["ca"])
    headers = {"Authorization": f"Bearer {setup['token']}"}
    clients = {
        "service": CookielessClient(
            base_url=setup["url"], headers=headers, transport=AsyncioTransport(context)
        ),
        "httpx": CookielessClient(base_url=setup["url"], headers=headers, verify=context),
    }
    get_path = f"{GRAPH_ROOT}/deployments/{setup['deployment']}"
    enroll_path = f"{GRAPH_ROOT}/updatableAssets/{ACTION}enrollAssets"
    enroll_body = {
        "updateCategory": "feature",
        "assets": [{"@odata.type": NS + "azureADDevice", "id": d} for d in setup["devices"]],
    }

    async def get(http: httpx.AsyncClient) -> None:
        answer = await http.get(get_path)
        answer.raise_for_status()
        answer.json()

    async def enroll(http: httpx.AsyncClient) -> None:
        (await http.post(enroll_path, json=enroll_body)).raise_for_status()

    results: dict[str, Any] = {}
    for kind, call in (("get", get), ("enroll", enroll)):
        for http in clients.values():  # warm: connections, imports, caches
            for _ in range(50):
                await call(http)
        for _ in range(setup["blocks"]):
            for name, http in clients.items():
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(setup["calls"]):
                    await call(http)
                block = results.setdefault(kind, {}).setdefault(name, {"cpuMs": [], "wallMs": []})
                block["cpuMs"].append((time.process_time() - cpu) / setup["calls"] * 1000)
                block["wallMs"].append((time.perf_counter() - wall) / setup["calls"] * 1000)
    for http in clients.values():
        await http.aclose()
    return results


def run_measuring_process(bench: Bench, setup: dict[str, Any]) -> dict[str, Any]:
    """This script again, with the service's code of bench.app_dir first on the path."""
    env = {**os.environ, "PYTHONPATH": str(bench.app_dir)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", json.dumps(setup)],
        env=env,
        cwd=bench.app_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise harness.BenchError(f"the measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    args = parse_args()
    if args.measure:
        import uvloop

        print(json.dumps(uvloop.run(measure(json.loads(args.measure)))))
        return 0
    with Bench("graph_calls", args) as bench:
        sim = bench.start_simulator(synchronous=True)
        direct = DirectGraph(sim)
        bench.clients.append(direct)
        bench.announce()
        setup = {
            "url": sim.url,
            "ca": str(sim.ca),
            "token": str(direct.http.headers["Authorization"]).removeprefix("Bearer "),
            "deployment": direct.create_deployment(),
            "devices": harness.device_ids(200),
            "calls": args.calls,
            "blocks": args.blocks,
        }
        results = run_measuring_process(bench, setup)
        summary: dict[str, Any] = {}
        rows = []
        for kind, label in (("get", "GET a deployment"), ("enroll", "enrollAssets, 200 devices")):
            for name in CONTESTANTS:
                cpu = median(results[kind][name]["cpuMs"])
                wall = median(results[kind][name]["wallMs"])
                summary[f"{kind}.{name}"] = {"cpuMsPerCall": cpu, "wallMsPerCall": wall}
                rows.append([label, name, cpu, wall])
        print_table(
            f"one Graph call at a time over TLS, client CPU and wall per call"
            f" (medians of {args.blocks} blocks of {args.calls})",
            ["call", "client", "CPU ms", "wall ms"],
            rows,
        )
        path = bench.write_results({"summary": summary, "blocks": results})
        print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
