"""A worker killed with `kill -9` in the middle of an operation: another worker finishes it,
with no device lost. Two API replicas run without a worker (RUN_WORKER=false) against one
database and Graph over TLS (the standalone simulator, with latency), as in a cluster: the
change is asked of one replica and followed on the other."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.operations.early_settling import EARLY_BATCH
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body
from tests.auth.keys import ADMIN_HEADERS
from tests.db_server import REPO
from tests.e2e.processes import free_port, live_env
from tests.graph.tls_server import serve_tls

DEVICES = 600
IDS_PER_CALL = 20  # 30 chunks: long enough to kill the worker in the middle


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _worker(
    env: dict[str, str], log: Path, metrics_port: int | None = None
) -> subprocess.Popen[bytes]:
    """`python -m app worker` with its /metrics on a free port: the default (9102) may be taken
    on this machine, and a worker that cannot bind it does not start."""
    port = metrics_port or free_port()
    return _start(["worker"], {**env, "WORKER_METRICS_PORT": str(port)}, log)


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _ready(http: httpx.Client) -> bool:
    try:
        return http.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_worker_stopped_midway_is_replaced_and_the_operation_completes(
    clean_database: str, tmp_path: Path, stop: signal.Signals
) -> None:
    state = SimulatorState(client_id="app", client_secret="s", synchronous=True)
    state.faults.latency_seconds = 0.05
    with serve_tls(state, tmp_path / "tls") as sim, _processes() as started:
        env = live_env(
            clean_database,
            sim,
            GRAPH_MAX_IDS_PER_CALL=str(IDS_PER_CALL),
            RUN_WORKER="false",
            LOG_FORMAT="json",
        )
        replicas = []
        for name in ("api-1", "api-2"):
            port = free_port()
            started.append(_start(["serve", "--port", str(port)], env, tmp_path / f"{name}.log"))
            replicas.append(
                httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ADMIN_HEADERS, timeout=30)
            )
        metrics_ports = [free_port(), free_port()]
        first = _worker(env, tmp_path / "w1.log", metrics_ports[0])
        started.append(first)
        asking, http = replicas

        _until(lambda: all(_ready(r) for r in replicas), 60, "both API replicas")
        created = asking.post("/v1/rollouts", json=rollout_body())
        assert created.status_code == 201, created.text
        rollout = created.json()
        devices = device_ids(DEVICES)
        accepted = asking.post(
            f"/v1/rollouts/{rollout['id']}/audience",
            json={"addDevices": devices, "ticket": "CHG-KILL"},
        )
        assert accepted.status_code == 202, accepted.text
        operation_id = accepted.json()["id"]

        _until(lambda: state.count("POST", "updateAudience") >= 5, 60, "the first chunks")
        first.send_signal(stop)
        # SIGTERM: the worker takes no new job and hands its operation back at the next
        # committed chunk, then exits cleanly, well within a Kubernetes grace period.
        assert first.wait(timeout=15) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
        killed_at = time.monotonic()
        sent_before = state.count("POST", "updateAudience")
        assert sent_before < DEVICES // IDS_PER_CALL, "the worker finished before it was killed"
        started.append(_worker(env, tmp_path / "w2.log", metrics_ports[1]))

        def finished() -> dict[str, Any] | None:
            operation: dict[str, Any] = http.get(f"/v1/operations/{operation_id}").json()
            return operation if operation["status"] not in ("queued", "running") else None

        operation = _until(finished, 45, "the replacement worker to finish")
        assert time.monotonic() - killed_at < 30
        if stop == signal.SIGTERM:
            assert "handed back to the queue" in (tmp_path / "w1.log").read_text()
        # The replacement's own metrics show the Graph calls it made.
        scraped = httpx.get(f"http://127.0.0.1:{metrics_ports[1]}/metrics", timeout=10).text
        assert (
            'autopatch_graph_calls_total{client="worker",operation="updateAudience",status="2xx"}'
            in scraped
        )
        listed = http.get(f"/v1/rollouts/{rollout['id']}").json()["audience"]
        events = http.get("/v1/audit/events", params={"deviceId": devices[-1]}).json()["items"]

    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "succeeded",
        DEVICES,
        0,
    ), operation
    audience_id = state.deployments[rollout["graphDeploymentId"]].audience_id
    assert sorted(state.members(audience_id)) == sorted(devices)
    assert {state.devices[d].enrollment["feature"].state for d in devices} == {"enrolled"}
    sent = Counter(
        d["id"] for c in state.find("POST", "updateAudience") for d in c.body["addMembers"]
    )
    assert set(sent) == set(devices)
    # Sent again at most: the chunks that were in flight (GRAPH_CONCURRENCY, 4) when it died.
    assert sum(sent.values()) - DEVICES <= 4 * IDS_PER_CALL
    assert listed == {"members": DEVICES, "exclusions": 0}
    assert ("audience.update", "succeeded") in {(e["action"], e["outcome"]) for e in events}
    assert {e["ticket"] for e in events if e["action"] == "audience.update"} == {"CHG-KILL"}


def _settled(database_url: str, operation_id: str) -> int:
    """Items of the operation the worker has settled `succeeded` (committed)."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as db:
        row = db.execute(
            "SELECT count(*) FROM operation_items WHERE operation_id = %s AND status = 'succeeded'",
            (operation_id,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_worker_killed_while_settling_what_it_reads_is_replaced_and_nothing_is_lost(
    clean_database: str, tmp_path: Path
) -> None:
    """Killed after some batches of listed members were settled and committed, before the
    listing's last page (app.operations.early_settling): the replacement reads Graph again and
    settles the rest; every item succeeds once, and the mirror is Graph's audience."""
    devices = device_ids(EARLY_BATCH * 2 + 500)
    state = SimulatorState(client_id="app", client_secret="s", synchronous=True)
    state.faults.latency_seconds = 0.05  # 25 member pages: over a second of reading
    with serve_tls(state, tmp_path / "tls") as sim, _processes() as started:
        env = live_env(clean_database, sim, RUN_WORKER="false", LOG_FORMAT="json")
        port = free_port()
        started.append(_start(["serve", "--port", str(port)], env, tmp_path / "api.log"))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ADMIN_HEADERS, timeout=30)
        first = _worker(env, tmp_path / "w1.log")
        started.append(first)
        _until(lambda: _ready(http), 60, "the API")
        created = http.post("/v1/rollouts", json=rollout_body())
        assert created.status_code == 201, created.text
        rollout = created.json()
        accepted = http.post(
            f"/v1/rollouts/{rollout['id']}/audience",
            json={"addDevices": devices, "ticket": "CHG-KILL-SETTLING"},
        )
        assert accepted.status_code == 202, accepted.text
        operation_id = accepted.json()["id"]

        settled = _until(
            lambda: _settled(clean_database, operation_id) or None, 120, "a settled batch"
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=15) == -signal.SIGKILL
        assert EARLY_BATCH <= settled < len(devices), settled
        # Killed before it finished: the operation is still running, part of it settled.
        assert http.get(f"/v1/operations/{operation_id}").json()["status"] == "running"
        assert _settled(clean_database, operation_id) < len(devices)
        started.append(_worker(env, tmp_path / "w2.log"))

        def finished() -> dict[str, Any] | None:
            operation: dict[str, Any] = http.get(f"/v1/operations/{operation_id}").json()
            return operation if operation["status"] not in ("queued", "running") else None

        operation = _until(finished, 60, "the replacement worker to finish")
        listed = http.get(f"/v1/rollouts/{rollout['id']}").json()["audience"]

    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "succeeded",
        len(devices),
        0,
    ), operation
    audience_id = state.deployments[rollout["graphDeploymentId"]].audience_id
    assert sorted(state.members(audience_id)) == sorted(devices)
    assert listed == {"members": len(devices), "exclusions": 0}
