"""The service started as the README starts it (`python -m app serve`), on a real port."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.helpers import device_ids, rollout_body
from tests.e2e.processes import start_serve, wait_until_answering


@pytest.fixture
def served(clean_database: str) -> Iterator[str]:
    """The service in its own process on a free port, until the test ends."""
    env = {**os.environ, "DATABASE_URL": clean_database, "LOG_FORMAT": "json"}
    process, base = start_serve(env)
    try:
        wait_until_answering(process, base, "/healthz", seconds=30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_served_service_is_ready_and_rolls_out(served: str) -> None:
    with httpx.Client(base_url=served, timeout=20) as http:
        ready = http.get("/readyz")
        assert ready.json() == {
            "status": "ready",
            "checks": {"database": "ok", "schema": "ok", "graph": "ok"},
        }
        docs = http.get("/docs")
        assert "/static/docs/swagger-ui-bundle.js" in docs.text

        created = http.post(
            "/v1/rollouts",
            json=rollout_body(devices=device_ids(2)),
            headers={"X-Request-ID": "e2e-create-1"},
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "e2e-create-1"
        rollout = created.json()
        operation_id = rollout["audienceOperation"]["id"]

        deadline = time.monotonic() + 20
        while (operation := http.get(f"/v1/operations/{operation_id}").json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, operation
            time.sleep(0.1)
        assert (operation["status"], operation["succeeded"]) == ("succeeded", 2)

        got = http.get(f"/v1/rollouts/{rollout['id']}").json()
        assert got["state"]["effective"] == "offering"
        assert got["audience"] == {"members": 2, "exclusions": 0}
        events = http.get("/v1/audit/events", params={"rolloutId": rollout["id"]}).json()
        create_events = [e for e in events["items"] if e["action"] == "rollout.create"]
        assert [(e["outcome"], e["requestId"]) for e in create_events] == [
            ("requested", "e2e-create-1"),
            ("succeeded", "e2e-create-1"),
        ]
