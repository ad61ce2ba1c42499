"""`python -m app worker` runs on the event loop `serve` runs on: uvicorn's choice, uvloop where
it is installed (it is one of the service's dependencies, through uvicorn[standard])."""

from __future__ import annotations

import subprocess
import sys

from tests.db_server import REPO

CHILD = """
import asyncio, sys
import app.jobs.process as process
from app.settings import Settings

async def report(settings):
    print(type(asyncio.get_running_loop()).__module__, flush=True)

process.run_worker_process = report
sys.exit(process.main(Settings.model_construct(graph_mode="live")))
"""


def test_a_worker_of_its_own_runs_on_uvloop_like_serve() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["uvloop"]
