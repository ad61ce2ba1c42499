"""Benchmark 7: a worker killed with `kill -9` in the middle of a large operation, at full scale.

As in a cluster: two API replicas (RUN_WORKER=false) and two `python -m app worker` processes
share one database; Graph is the standalone simulator over TLS (synchronous) with `--latency`
per call and `--throttle` of the calls answered 429. One replica is asked to create a rollout
of N devices (default 100,000); the other is polled. Once `--kill-at` of the operation's write
calls have reached Graph (or, with `--kill-in reading`, of the member pages it reads back),
the worker running the operation is killed with SIGKILL and a new worker is started in its
place.

Checked afterwards, each a failure of the run when it does not hold:
- the operation succeeded, every device succeeded, none failed;
- Graph's audience holds exactly the N devices, and every one is enrolled for feature updates;
- the service's own record of the audience (GET /v1/rollouts/{id}/devices) equals Graph's;
- devices sent to Graph twice are at most the chunks in flight when the worker died;
- GET /v1/audit/events?deviceId= answers for sampled devices: enrolled and added, under the
  change's ticket; the audit log's hash chain verifies.
Reported: when the kill came, how long until another worker made the next Graph call, and the
wall time against the ideal of many_devices.py.

    .venv/bin/python bench/worker_kill.py --devices 100000 --latency 0.02 --throttle 0.05
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import harness
import httpx
from harness import Bench, DirectGraph, Process, print_table

TICKET = "CHG-BENCH"
AUDIT_SAMPLE = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the rollout")
    harness.graph_fault_arguments(parser)
    parser.add_argument(
        "--kill-at",
        type=float,
        default=0.5,
        help="share of --kill-in done when the busy worker is killed (default 0.5)",
    )
    parser.add_argument(
        "--kill-in",
        choices=["writes", "reading"],
        default="writes",
        help="what --kill-at is a share of: the operation's write calls (enroll and add, 2 per"
        " 200 devices; 429s included) or the member pages it reads back (default writes)",
    )
    parser.add_argument(
        "--asynchronous",
        action="store_true",
        help="Graph applies accepted (202) changes after the simulator's delay, as Microsoft's"
        " does some time later, instead of at once",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for the run")
    parser.add_argument("--poll", type=float, default=0.5, help="operation poll interval (s)")
    harness.common_arguments(parser)
    args = parser.parse_args()
    if not 1_000 <= args.devices <= 100_000:
        parser.error("--devices must be 1000-100000 (one request)")
    if not 0 < args.kill_at < 1:
        parser.error("--kill-at must be in (0, 1)")
    if not 0 <= args.throttle < 1 or args.latency < 0:
        parser.error("--throttle must be in [0, 1) and --latency >= 0")
    return args


def graph_calls(sim: harness.Simulator, method: str, path: str) -> list[dict[str, Any]]:
    """The simulator's log of calls (status and body included)."""
    answer = sim.admin.get(f"/_simulator/calls?method={method}&pathContains={path}")
    answer.raise_for_status()
    calls: list[dict[str, Any]] = answer.json()["value"]
    return calls


def busy_worker(workers: list[Process], request_id: str, seconds: float = 60) -> Process:
    """The worker running the operation: the one whose log names the request that asked for
    it (its Graph retries are logged under it), or else the one clearly busier on the CPU over
    a second (the other only polls the queue)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        named = [w for w in workers if request_id in w.log.read_text("utf-8", errors="replace")]
        if len(named) == 1:
            return named[0]
        before = [w.cpu_seconds() for w in workers]
        time.sleep(1)
        used = [w.cpu_seconds() - b for w, b in zip(workers, before, strict=True)]
        busiest = max(range(len(workers)), key=used.__getitem__)
        if all(used[busiest] > 3 * u + 0.05 for i, u in enumerate(used) if i != busiest):
            return workers[busiest]
    raise harness.BenchError(f"no worker could be told to run the operation in {seconds:g} s")


def graph_calls_seen(sim: harness.Simulator) -> int:
    """Graph calls the simulator has received so far (token requests not counted)."""
    return int(sim.counters()["calls"]) - len(graph_calls(sim, "POST", "oauth2"))


def pages_read(sim: harness.Simulator) -> int:
    """Pages of deployment audience members read so far."""
    return len(graph_calls(sim, "GET", "/members"))


def writes_seen(sim: harness.Simulator) -> int:
    """Graph write calls the simulator has received so far (429s included, reads not)."""
    return int(sim.counters()["writes"])


def pages(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged /v1 collection."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        answer = http.get(path, params=query)
        if answer.status_code != 200:
            raise harness.BenchError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        page = answer.json()
        items += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return items


def check(failures: list[str], holds: bool, what: str) -> None:
    """Remember `what` as a failure unless it holds."""
    print(f"{'ok  ' if holds else 'FAIL'} {what}", flush=True)
    if not holds:
        failures.append(what)


def main() -> int:
    args = parse_args()
    concurrency = harness.GRAPH_CONCURRENCY_DEFAULT
    chunk = 200  # GRAPH_MAX_IDS_PER_CALL's default: the ids of one write call
    with Bench("worker_kill", args) as bench:
        sim = bench.start_simulator(synchronous=not args.asynchronous)
        env = bench.service_env(bench.create_database(), sim, RUN_WORKER="false")
        bench.migrate(env)
        (_, asking), (_, polled) = bench.start_api(env), bench.start_api(env)
        workers = [bench.start_worker(env, name=f"worker-{n}") for n in (1, 2)]
        bench.announce()
        harness.warm_up(asking)  # without faults

        settings = harness.slow_graph(sim, args)
        devices = harness.device_ids(args.devices)
        write_calls = 2 * -(-args.devices // chunk)  # enroll + add, per chunk
        progress: Callable[[], int]
        if args.kill_in == "writes":
            # Writes before the operation's: the create's audience and deployment.
            needed, progress = 2 + write_calls, lambda: writes_seen(sim)
        else:
            needed, progress = -(-args.devices // (args.page_size or 100)), lambda: pages_read(sim)
        kill_after = max(1, int(args.kill_at * needed))

        started_wall, started = time.time(), time.perf_counter()
        answer = asking.post("/v1/rollouts", json=harness.rollout_body(devices, "bench kill"))
        if answer.status_code != 201:
            raise harness.BenchError(f"POST /v1/rollouts: {answer.status_code} {answer.text[:300]}")
        rollout = answer.json()
        operation_id = rollout["audienceOperation"]["id"]
        # The busy worker is found while the operation goes on, then killed at the threshold.
        harness.wait_until(lambda: writes_seen(sim) >= 10, args.timeout, "the first writes", 0.05)
        victim = busy_worker(workers, answer.headers["X-Request-ID"])
        harness.wait_until(
            lambda: progress() >= kill_after, args.timeout, f"{kill_after} {args.kill_in}", 0.02
        )
        os.kill(victim.popen.pid, signal.SIGKILL)
        victim.popen.wait(timeout=10)
        killed_at = time.perf_counter()
        at_kill = progress()
        survivor = next(w for w in workers if w is not victim)
        workers = [survivor, bench.start_worker(env, name="worker-3")]
        print(
            f"killed {victim.name} after {killed_at - started:.1f} s, at {at_kill} of"
            f" {needed} {args.kill_in}; worker-3 started",
            flush=True,
        )
        # In-flight calls of the dead worker may still land just after the kill.
        time.sleep(0.5)
        landed = graph_calls_seen(sim)
        harness.wait_until(
            lambda: graph_calls_seen(sim) > landed, 120, "a Graph call by another worker", 0.05
        )
        resumed_after = time.perf_counter() - killed_at
        operation = harness.wait_operation(
            polled, operation_id, timeout=args.timeout, every=args.poll
        )
        wall = harness.parse_time(operation["finishedAt"]) - started_wall
        sim.clear_faults()

        failures: list[str] = []
        check(
            failures,
            (operation["status"], operation["succeeded"], operation["failed"])
            == ("succeeded", args.devices, 0),
            f"operation {operation['status']}: {operation['succeeded']} succeeded,"
            f" {operation['failed']} failed of {args.devices}",
        )
        direct = DirectGraph(sim)
        bench.clients.append(direct)
        root = harness.GRAPH_ROOT
        deployment = direct.call(
            "GET", f"{root}/deployments/{rollout['graphDeploymentId']}?$expand=audience"
        )
        audience = deployment.json()["audience"]["id"]
        members = {
            m["id"] for m in direct.get_all(f"{root}/deploymentAudiences/{audience}/members")
        }
        check(failures, members == set(devices), f"Graph's audience: {len(members)} members")
        assets = {a["id"]: a for a in direct.get_all(f"{root}/updatableAssets")}
        enrolled = sum(
            1
            for d in devices
            if d in assets and assets[d]["enrollment"]["feature"]["enrollmentState"] == "enrolled"
        )
        check(failures, enrolled == args.devices, f"enrolled for feature updates: {enrolled}")
        ours = pages(polled, f"/v1/rollouts/{rollout['id']}/devices", membership="member")
        check(
            failures,
            {d["deviceId"] for d in ours} == members and len(ours) == len(members),
            f"the service's record of the audience: {len(ours)} members, as Graph's",
        )
        sent = Counter(
            d["id"]
            for call in graph_calls(sim, "POST", "updateAudience")
            if call["status"] < 300
            for d in (call.get("body") or {}).get("addMembers", [])
        )
        again = sum(sent.values()) - len(sent)
        check(
            failures,
            set(sent) == set(devices) and again <= concurrency * chunk,
            f"devices added twice: {again} (at most {concurrency} chunks in flight:"
            f" {concurrency * chunk})",
        )
        sample = random.Random(7).sample(devices, AUDIT_SAMPLE)
        answered = 0
        for device in sample:
            events = pages(asking, "/v1/audit/events", deviceId=device)
            done = {(e["action"], e["outcome"]) for e in events if e["ticket"] == TICKET}
            answered += {("devices.enroll", "succeeded"), ("audience.update", "succeeded")} <= done
        check(
            failures,
            answered == AUDIT_SAMPLE,
            f"audit answers for {answered} of {AUDIT_SAMPLE} sampled devices",
        )
        verified = asking.get("/v1/audit/verify").json()
        check(
            failures,
            verified.get("ok") is True,
            f"audit chain verified: {verified.get('ok')}, {verified.get('events')} events",
        )

        calls = sim.counters()
        ideal = (calls["calls"] - len(graph_calls(sim, "POST", "oauth2"))) * args.latency
        ideal /= concurrency
        summary = {
            "devices": args.devices,
            "latencySeconds": args.latency,
            "throttleRate": args.throttle,
            "retryAfterSeconds": settings.get("retryAfterSeconds"),
            "killAt": args.kill_at,
            "killedAfterSeconds": killed_at - started,
            "killIn": args.kill_in,
            "progressAtKill": at_kill,
            "progressNeeded": needed,
            "resumedAfterSeconds": resumed_after,
            "seconds": wall,
            "idealSeconds": ideal,
            "addedTwice": again,
            "failures": failures,
        }
        print_table(
            f"{args.devices:,} devices, a worker killed at {args.kill_at:.0%} of the"
            f" {args.kill_in}",
            ["", "value"],
            [
                ["operation", f"{operation['status']} {operation['succeeded']}/{args.devices}"],
                ["killed after seconds", summary["killedAfterSeconds"]],
                [f"{args.kill_in} at the kill (of {needed})", at_kill],
                ["next Graph call by another worker after seconds", resumed_after],
                ["wall seconds (POST to finishedAt)", wall],
                ["ideal seconds (calls x latency / conc.)", ideal],
                ["devices added twice", again],
                ["checks failed", len(failures)],
            ],
        )
        path = bench.write_results({"summary": summary, "operation": operation})
        print(f"\nresults: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    harness.run_main(main)
