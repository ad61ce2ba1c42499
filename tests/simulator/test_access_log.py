"""One INFO line per request the simulator serves (logger `app.simulator`), in-process and
standalone."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.processes import free_port, stop, wait_for
from tests.simulator.support import ROOT

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms "
    r"request-id=(?P<rid>[0-9a-f-]{36})(?: client-request-id=(?P<crid>\S+))?$"
)


def simulator_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.simulator"]


async def test_in_process_each_request_logs_one_line_with_its_ids(
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    state: SimulatorState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.simulator")
    graph = await client.get(
        f"{ROOT}/deployments", params={"$top": "5"}, headers={"client-request-id": "ours-7"}
    )
    missing = await client.get(f"{ROOT}/deployments/nope")
    admin = await anon.get("/_simulator/config")
    token = await anon.post(
        "/t/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s",
              "scope": "https://graph.microsoft.com/.default"},
    )  # fmt: skip
    records = simulator_records(caplog)
    assert len(records) == 4
    assert all(r.levelno == logging.INFO for r in records)
    lines = [LINE.match(r.getMessage()) for r in records]
    assert all(lines), [r.getMessage() for r in records]
    got = [(m["method"], m["path"], m["status"], m["rid"], m["crid"]) for m in lines if m]
    assert got == [
        ("GET", f"{ROOT}/deployments?%24top=5", "200", graph.headers["request-id"], "ours-7"),
        ("GET", f"{ROOT}/deployments/nope", "404", missing.headers["request-id"], None),
        ("GET", "/_simulator/config", "200", admin.headers["request-id"], None),
        ("POST", "/t/oauth2/v2.0/token", "200", token.headers["x-ms-request-id"], None),
    ]
    assert records[0].__dict__["durationMs"] >= 0
    assert records[0].__dict__["simulatorRequestId"] == graph.headers["request-id"]
    assert state.calls[-1].request_id == token.headers["x-ms-request-id"]


def test_standalone_logs_each_request_on_stderr() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.simulator", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(port, proc, time.monotonic() + 20)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            unauthorized = http.get(f"{ROOT}/deployments")
            config = http.get("/_simulator/config")
    finally:
        output = stop(proc)
    lines = [line for line in output.splitlines() if " app.simulator: " in line]
    assert len(lines) == 2, output
    assert lines[0].split(" INFO app.simulator: ")[1] == (
        f"GET {ROOT}/deployments 401 {lines[0].split(' 401 ')[1].split('ms')[0]}ms "
        f"request-id={unauthorized.headers['request-id']}"
    )
    assert "GET /_simulator/config 200 " in lines[1]
    assert f"request-id={config.headers['request-id']}" in lines[1]
