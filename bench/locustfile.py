"""Locust users for bench/throughput.py (run headless by it; not collected by pytest).

The benchmark passes what they need in the environment:
BENCH_READ_KEY / BENCH_WRITE_KEY (X-API-Key of a reader and of an operator),
BENCH_ROLLOUT_ID (the rollout the readers read) and BENCH_CREATE_DEVICES (device ids the
creates name, comma-separated; may be empty).

    locust -f bench/locustfile.py --headless -u 50 -r 50 -t 30s --host URL ReadRollout
"""

from __future__ import annotations

import itertools
import os

from locust import FastHttpUser, constant, task

_COUNTER = itertools.count()


class ReadRollout(FastHttpUser):
    """GET /v1/rollouts/{id} in a closed loop (no think time)."""

    wait_time = constant(0)

    @task
    def read(self) -> None:
        self.client.get(
            f"/v1/rollouts/{os.environ['BENCH_ROLLOUT_ID']}",
            headers={"X-API-Key": os.environ["BENCH_READ_KEY"]},
            name="GET /v1/rollouts/{id}",
        )


class CreateRollout(FastHttpUser):
    """POST /v1/rollouts with a small valid body in a closed loop (no think time)."""

    wait_time = constant(0)

    @task
    def create(self) -> None:
        devices = [d for d in os.environ.get("BENCH_CREATE_DEVICES", "").split(",") if d]
        body: dict[str, object] = {
            "name": f"locust rollout {os.getpid()}-{next(_COUNTER)}",
            "ticket": "CHG-LOAD",
            "reason": "load test",
            "update": {"kind": "feature", "version": "Windows 11, version 24H2"},
        }
        if devices:
            body["devices"] = devices
        with self.client.post(
            "/v1/rollouts",
            json=body,
            headers={"X-API-Key": os.environ["BENCH_WRITE_KEY"]},
            name="POST /v1/rollouts",
            catch_response=True,
        ) as answer:
            if answer.status_code != 201:
                answer.failure(f"status {answer.status_code}")
