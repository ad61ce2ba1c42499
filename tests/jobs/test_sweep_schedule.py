"""The periodic sweep (every 5 s on one worker) runs the drift check once per interval."""

from __future__ import annotations

import itertools

import pytest

from app.jobs.tasks import SWEEP_SECONDS, crosses_interval


@pytest.mark.parametrize("interval", [5, 7, 60, 61.5, 300])
def test_the_drift_check_runs_once_per_interval(interval: float) -> None:
    start, hours = 1_796_103_890, 2
    ticks = range(start, start + hours * 3600, SWEEP_SECONDS)
    runs = [t for t in ticks if crosses_interval(t, interval)]
    assert len(runs) in (int(hours * 3600 // interval), int(hours * 3600 // interval) + 1)
    gaps = {b - a for a, b in itertools.pairwise(runs)}
    assert all(interval - SWEEP_SECONDS < gap < interval + SWEEP_SECONDS for gap in gaps)
