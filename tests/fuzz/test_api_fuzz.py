"""OpenAPI-driven fuzzing (schemathesis) of the app in-process, against the test database and
the Graph simulator: no request, valid or not, gets a 5xx or an answer the spec does not
describe (status code, media type, body schema, Allow); the stateful phase follows the spec's
links from a created rollout into the routes that need its id.

Schema-valid requests must also be accepted (positive_data_acceptance) where the schema can
say everything the service checks. It cannot for the operations in BUSINESS_RULES, which
refuse schema-valid input for reasons of state or data the schema cannot know."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi

from app.idempotency.models import KEY_PATTERN
from app.main import create_app
from app.simulator.state import SimulatorState
from tests.api.helpers import W11_24H2
from tests.auth.keys import ADMIN_HEADERS, API_KEYS
from tests.conftest import fixed_clock, make_settings

SEED = 20261201
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "allow_header_conformance",
    "positive_data_acceptance",
)
# operationId → why a schema-valid request can still be refused (422, 400).
BUSINESS_RULES = {
    "createRollout": "the update must be in Graph's catalog and deployable; endBy in the future; "
    "durations at most ten years",
    "patchRollout": "endBy in the future; durations at most ten years; a schedule or user "
    "experience once set stays",
    "changeAudience": "a device cannot be added and removed at once",
    "releaseDevices": "a device in an active rollout cannot be released",
    "listRollouts": "a cursor must come from a previous page",
    "listRolloutDevices": "a cursor must come from a previous page",
    "listAuditEvents": "a cursor must come from a previous page; `to` not before `from`",
    "listHeldDevices": "a cursor must come from a previous page",
    "listFeatureUpdates": "a cursor must come from a previous page",
    "listQualityUpdates": "a cursor must come from a previous page",
    "listChanges": "a cursor must come from a previous page",
}
GRAPH_WRITERS = ("createRollout", "patchRollout", "changeAudience", "releaseDevices")
CONFIG: dict[str, Any] = {
    "seed": SEED,
    # Authentication is on, as in production: every request presents an admin API key.
    "headers": ADMIN_HEADERS,
    "suppress-health-check": ["all"],
    "generation": {"mode": "all", "deterministic": True, "max-examples": 6},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "phases": {
        "coverage": {"generate-duplicate-query-parameters": False},
        # Valid steps only: a refused step follows no link (the invalid ones are the coverage
        # and fuzzing phases' work), so that any seed builds rollouts and uses their ids.
        "stateful": {"max-steps": 8, "generation": {"max-examples": 15, "mode": "positive"}},
    },
    "operations": [
        {
            "include-operation-id": sorted(BUSINESS_RULES),
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
        {
            # Saying 503 while a dependency is not ready is what /readyz is for.
            "include-operation-id": ["readyz"],
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", 503]}},
        },
        {
            # Every valid request of these writes to Graph and the database: their valid
            # boundary values come from the fuzzing phase, the coverage phase sends only
            # invalid ones (hundreds, each refused before Graph), so the run stays short.
            "include-operation-id": sorted(GRAPH_WRITERS),
            "phases": {"coverage": {"generation": {"mode": "negative"}}},
        },
    ],
}


@pytest.fixture
def fuzz_app(clean_database: str, simulator: SimulatorState) -> Iterator[FastAPI]:
    """The service with caller authentication on (its rate limit off: the fuzzer sends
    thousands of requests a minute), its lifespan run by schemathesis's ASGI transport."""
    settings = make_settings(clean_database, api_keys=API_KEYS, rate_limit_per_minute=0)
    yield create_app(settings, simulator_state=simulator, clock=fixed_clock)
    asgi.shutdown_lifespans()


STATEFUL_THREAD = "schemathesis_stateful_tests"  # schemathesis runs that phase in this thread
stateful_hook_calls: Counter[str] = Counter()


def _stateful() -> bool:
    """Whether this hook runs in the stateful phase (schemathesis tells hooks no phase)."""
    if threading.current_thread().name != STATEFUL_THREAD:
        return False
    stateful_hook_calls["calls"] += 1
    return True


def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """Name a deployable update in half of the generated rollouts, and in every one of the
    stateful phase (the catalog is Graph's data, not the schema's), so that creating one
    succeeds and the stateful phase has rollouts to follow links into."""
    operation = context.operation
    if (
        operation is not None
        and operation.label == "POST /v1/rollouts"
        and isinstance(body, dict)
        and isinstance(body.get("update"), dict)
        and (len(body.get("name", "")) % 2 == 0 or _stateful())
    ):
        body["update"] = {"kind": "feature", "version": W11_24H2}
    return body


def before_call(context: schemathesis.HookContext, case: Any, kwargs: Any) -> None:
    """Keep the fuzzer on the paths past authentication.

    A schema-valid Idempotency-Key becomes a fresh one: the fuzzer reuses generated values (and
    the spec's example) across different requests, which the service rightly refuses (422
    reused key; tests/api/test_idempotency.py). Invalid keys are kept, so that their refusal is
    still fuzzed. A generated `Authorization` is dropped: beside the API key it is a second
    credential (401), and no generated token could be valid (the token attacks are in
    tests/api/test_authentication.py). In the stateful phase `dryRun` is dropped: a dry run
    creates no rollout whose id a link could carry on."""
    headers = case.headers
    if headers is not None:
        headers.pop("Authorization", None)
    if _stateful() and case.query:
        case.query.pop("dryRun", None)
    key = headers.get("Idempotency-Key") if headers is not None else None
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        headers["Idempotency-Key"] = str(uuid.uuid4())


def _failures(event: events.ScenarioFinished) -> Iterator[str]:
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                yield (
                    f"[{event.phase.value}] {event.label or ''} {check.name}: {failure.title}\n"
                    f"{failure.message}\n{check.failure_info.code_sample}"
                )


def _followed_links(event: events.ScenarioFinished) -> Counter[str]:
    """Requests a stateful scenario made with the id of a rollout it had created itself."""
    created: set[str] = set()
    followed: Counter[str] = Counter()
    for interaction in sorted(event.recorder.interactions.values(), key=lambda i: i.timestamp):
        response, request = interaction.response, interaction.request
        if response is None:
            continue
        path = urlsplit(request.uri).path
        if request.method == "POST" and path == "/v1/rollouts" and response.status_code == 201:
            created.add(json.loads(response.content)["id"])
        elif any(rollout_id in path for rollout_id in created):
            followed[f"{request.method} {response.status_code}"] += 1
    return followed


def _run(schema: schemathesis.Schema) -> tuple[list[str], Counter[str], Counter[str]]:
    """Run every phase: the failures, the requests sent per phase, the links followed."""
    failures: set[str] = set()
    sent: Counter[str] = Counter()
    followed: Counter[str] = Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            sent[event.phase.value] += len(event.recorder.interactions)
            failures.update(_failures(event))
            if event.phase.value == "stateful":
                followed += _followed_links(event)
        elif isinstance(event, events.NonFatalError):
            failures.add(f"[{event.phase}] {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            failures.add(f"fatal: {event.exception!r}")
    return sorted(failures), sent, followed


def test_no_request_gets_a_5xx_or_an_answer_outside_the_spec(fuzz_app: FastAPI) -> None:
    config = SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=config)
    schema.hook(map_body)
    schemathesis.hook(before_call)  # before_call hooks are global in schemathesis
    stateful_hook_calls.clear()  # counts this run's hooks only
    started = time.monotonic()
    try:
        failures, sent, followed = _run(schema)
    finally:
        schemathesis.hooks.unregister(before_call)

    print(f"\nschemathesis: {dict(sent)} in {time.monotonic() - started:.1f} s; links: {followed}")
    assert not failures, "\n\n".join(failures)
    assert stateful_hook_calls, f"no hook ran in thread {STATEFUL_THREAD!r}: schemathesis moved it"
    # The stateful phase created rollouts and used their ids, and some of it succeeded.
    assert any(key.split()[1].startswith("2") for key in followed), followed
