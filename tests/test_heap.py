"""serve and worker freeze their start-up heap before they start work (app.heap), in a process
of their own: here each runs in a child process whose uvicorn (or worker loop) reports what it
found instead of starting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.db_server import REPO

CHILD = """
import gc, sys
import uvicorn
import app.jobs.process as process

def report(*args, **kwargs):
    garbage = [[]]
    garbage[0].append(garbage)  # a cycle made after start-up: still collected
    del garbage
    print(gc.get_freeze_count(), gc.collect(), flush=True)
    return 0

uvicorn.run = report
process.main = report
from app.__main__ import main
sys.exit(main([sys.argv[1]]))
"""


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_entry_point_freezes_the_start_up_heap_and_still_collects_later_garbage(
    command: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    frozen, collected = (int(value) for value in done.stdout.split())
    assert frozen > 50_000  # the modules, classes and app start-up made
    assert collected >= 2  # the list and its cycle
