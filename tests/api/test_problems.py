"""Every error is an RFC 9457 problem carrying the request id, including FastAPI's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from app.main import create_app
from app.settings import Settings

PROBLEM = "application/problem+json"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = Field(ge=1)


@pytest.fixture
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app plus two probe routes: one that validates a body, one that crashes."""
    application: FastAPI = create_app(settings.model_copy(update={"max_body_bytes": 2048}))

    @application.post("/_probe/body")
    async def probe_body(body: _Body) -> dict[str, str]:
        return {"name": body.name}

    @application.get("/_probe/crash")
    async def probe_crash() -> None:
        raise RuntimeError("secret internals")

    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def test_unknown_path_is_a_404_problem_with_the_callers_request_id(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/nothing-here", headers={"X-Request-ID": "ticket-42.a"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "ticket-42.a"
    assert response.json() == {
        "type": "urn:problem:not-found",
        "title": "No such resource",
        "status": 404,
        "detail": "Nothing is served at /v1/nothing-here.",
        "instance": "/v1/nothing-here",
        "requestId": "ticket-42.a",
    }


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET"
    assert response.json()["type"] == "urn:problem:method-not-allowed"


async def test_an_unusable_request_id_is_replaced_by_a_fresh_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    generated = response.headers["x-request-id"]
    assert generated != "bad id\twith spaces"
    assert len(generated) == 36


async def test_every_response_gets_a_distinct_request_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_invalid_fields_are_a_422_naming_each_field(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/_probe/body", json={"count": 0, "colour": "red"})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:problem:validation"
    assert body["detail"] == "3 fields are invalid."
    assert sorted((e["field"], e["message"]) for e in body["errors"]) == [
        ("colour", "unknown field"),
        ("count", "Input should be greater than or equal to 1"),
        ("name", "Field required"),
    ]


async def test_malformed_json_is_a_400(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/_probe/body", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:problem:malformed-request"


async def test_a_body_over_the_limit_is_a_413_before_the_handler_runs(
    probe_client: httpx.AsyncClient,
) -> None:
    payload = b'{"name": "' + b"x" * 4096 + b'", "count": 1}'
    response = await probe_client.post(
        "/_probe/body", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:problem:payload-too-large"
    assert "2048 bytes" in response.json()["detail"]


async def test_a_streamed_body_over_the_limit_is_a_413(probe_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'", "count": 1}'

    response = await probe_client.post(
        "/_probe/body", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_an_unexpected_error_is_a_500_problem_that_hides_internals(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.get("/_probe/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "crash-1"
    body = response.json()
    assert body["type"] == "urn:problem:internal"
    assert body["requestId"] == "crash-1"
    assert "secret internals" not in response.text
