"""`python -m app serve` on its embedded PostgreSQL stops that server when it is stopped itself."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from app.simulator.state import SimulatorState
from tests.api.helpers import rollout_body
from tests.auth.keys import ADMIN_HEADERS
from tests.e2e.processes import live_env, start_serve, wait_until_answering
from tests.graph.tls_server import serve_tls

START_SECONDS = 90
STOP_SECONDS = 30


def _postgres_processes_of(pgdata: Path) -> list[psutil.Process]:
    """Every live postgres process whose command line or working directory names `pgdata`."""
    found = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            if "postgres" not in (process.info["name"] or ""):
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            cwd = process.cwd()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if str(pgdata) in cmdline or cwd.startswith(str(pgdata)):
            found.append(process)
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """DATA_DIR for the service; a server the test finds left over is stopped afterwards."""
    yield tmp_path / "data"
    for process in _postgres_processes_of((tmp_path / "data" / "postgres").resolve()):
        process.terminate()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stopping_the_service_stops_its_embedded_postgres(
    data_dir: Path, stop_signal: signal.Signals
) -> None:
    pgdata = (data_dir / "postgres").resolve()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(DATA_DIR=str(data_dir), LOG_FORMAT="console", GRAPH_MODE="simulator")
    process, base = start_serve(env)
    try:
        wait_until_answering(process, base, seconds=START_SECONDS)
        assert _postgres_processes_of(pgdata), "the embedded PostgreSQL was not found running"
        assert (pgdata / "postmaster.pid").is_file()

        process.send_signal(stop_signal)
        output = process.communicate(timeout=STOP_SECONDS)[0].decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert "embedded PostgreSQL stopped" in output, output
    deadline = time.monotonic() + 5  # children of the postmaster may take a moment to go
    while (left := _postgres_processes_of(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [process.cmdline() for process in left] == [], output
    assert not (pgdata / "postmaster.pid").exists(), output


def test_a_request_in_flight_when_sigterm_arrives_is_finished(
    clean_database: str, tmp_path: Path
) -> None:
    """Graceful shutdown: a create waiting on a slow Graph when SIGTERM arrives still gets its
    201 and its record, and the process then exits."""
    state = SimulatorState(client_id="app", client_secret="s", synchronous=True)
    with serve_tls(state, tmp_path / "tls") as sim:
        env = live_env(clean_database, sim, LOG_FORMAT="console")
        process, base = start_serve(env, output=subprocess.DEVNULL)
        try:
            wait_until_answering(process, base, seconds=START_SECONDS)
            state.faults.latency_seconds = 2.0
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                answer = pool.submit(
                    httpx.post,
                    f"{base}/v1/rollouts",
                    json=rollout_body(),
                    headers=ADMIN_HEADERS,
                    timeout=60,
                )
                deadline = time.monotonic() + 10
                while (
                    not state.count("POST", "/deploymentAudiences") and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
                process.send_signal(signal.SIGTERM)
                created = answer.result(timeout=60)
            # uvicorn finishes its shutdown, then re-raises SIGTERM (so a supervisor sees it).
            assert process.wait(timeout=STOP_SECONDS) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
    assert created.status_code == 201, created.text
    assert len(state.deployments) == 1
