"""RATE_LIMIT_PER_MINUTE over HTTP: RateLimit-* headers on every limited response, a 429
problem with Retry-After past the limit, one budget per caller (as the role dependency names
it), and nothing of it when the limit is 0."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from app.auth.api_keys import key_digest
from app.main import create_app
from app.ratelimit.limiter import CallerRateLimiter, enforce_rate_limit
from app.ratelimit.storage import PostgresStorage
from app.settings import Settings
from tests.conftest import fixed_clock, make_settings

KEYS = {"svc-alice": "key-of-alice-0123456789abcdef", "svc-bob": "key-of-bob-0123456789abcdef"}
API_KEYS = ",".join(f"{name}:reader:{key_digest(key)}" for name, key in KEYS.items())
# 2036-11-28 12:00:10 UTC: 50 s of the minute to run (a fixed clock: no flake at a minute's turn),
# in the future: the sweep deletes counters whose expiry is past by the database's real clock
NOW = 2_111_486_410.0
LIMIT = 3


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database, api_keys=API_KEYS, rate_limit_per_minute=LIMIT)


@pytest.fixture
def limited(app: FastAPI) -> FastAPI:
    """The app, its limiter (built from the settings by the lifespan) on a fixed clock."""
    services = app.state.services
    assert services.rate_limiter.limit == LIMIT
    storage = PostgresStorage(services.engine, clock=lambda: NOW)
    services.rate_limiter = CallerRateLimiter(storage, LIMIT)
    return app


def as_caller(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


async def test_the_request_past_the_limit_is_a_429_problem_with_retry_after(
    limited: FastAPI, client: httpx.AsyncClient
) -> None:
    for remaining in (2, 1, 0):
        response = await client.get("/v1/rollouts", headers=as_caller("svc-alice"))
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Remaining"] == str(remaining)
        assert "Retry-After" not in response.headers
    assert response.headers["RateLimit-Reset"] == "51"  # when one more will be accepted

    refused = await client.get(
        "/v1/rollouts", headers={**as_caller("svc-alice"), "X-Request-ID": "rl-1"}
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    # This minute's 3 decay in the next: 3 × (60 − s)/60 < 3 once s > 0, 50 s + a moment on.
    assert refused.headers["Retry-After"] == "51"
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "51"
    assert refused.json() == {
        "type": "urn:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "More than 3 requests a minute from svc-alice; retry in 51 s.",
        "instance": "/v1/rollouts",
        "retryAfterSeconds": 51,
        "requestId": "rl-1",
    }


async def test_callers_have_separate_budgets(limited: FastAPI, client: httpx.AsyncClient) -> None:
    for _ in range(LIMIT):
        assert (await client.get("/v1/rollouts", headers=as_caller("svc-alice"))).is_success
    assert (await client.get("/v1/rollouts", headers=as_caller("svc-alice"))).status_code == 429
    bob = await client.get("/v1/rollouts", headers=as_caller("svc-bob"))
    assert bob.status_code == 200
    assert bob.headers["RateLimit-Remaining"] == "2"


async def test_every_limited_response_carries_the_headers_errors_too(
    limited: FastAPI, client: httpx.AsyncClient
) -> None:
    missing = await client.get(
        "/v1/rollouts/5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38", headers=as_caller("svc-alice")
    )
    assert missing.status_code == 404
    assert missing.headers["RateLimit-Remaining"] == "2"  # it counted
    catalog = await client.get("/v1/catalog/feature-updates", headers=as_caller("svc-alice"))
    assert catalog.headers["RateLimit-Remaining"] == "1"


async def test_a_request_is_counted_once_however_often_it_is_enforced(
    limited: FastAPI, client: httpx.AsyncClient
) -> None:
    request = Request({"type": "http", "app": limited, "headers": [], "state": {}})
    await enforce_rate_limit(request, "svc-alice")
    await enforce_rate_limit(request, "svc-alice")
    assert request.state.rate_limit.remaining == 2


async def test_unauthenticated_requests_and_probes_are_not_counted(
    limited: FastAPI, client: httpx.AsyncClient
) -> None:
    for _ in range(LIMIT + 1):
        assert (await client.get("/v1/rollouts")).status_code == 401
        probe = await client.get("/healthz")
        assert probe.status_code == 200
        assert "RateLimit-Limit" not in probe.headers
    assert (await client.get("/v1/rollouts", headers=as_caller("svc-alice"))).status_code == 200


async def test_limit_zero_sends_no_headers_and_refuses_nothing(
    clean_database: str, simulator: object
) -> None:
    settings = make_settings(clean_database, api_keys=API_KEYS, rate_limit_per_minute=0)
    app = create_app(settings, simulator_state=simulator, clock=fixed_clock)
    async with app.router.lifespan_context(app):
        assert not app.state.services.rate_limiter.enabled
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for _ in range(5):
                response = await http.get("/v1/rollouts", headers=as_caller("svc-alice"))
                assert response.status_code == 200
                assert not any(name.startswith("ratelimit") for name in response.headers)
