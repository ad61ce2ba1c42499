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


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/rollouts/6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9f8e7d", "DELETE, GET, PATCH"),
        ("POST", "/v1/rollouts/6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9f8e7d", "DELETE, GET, PATCH"),
        ("DELETE", "/v1/rollouts", "GET, POST"),
        ("GET", "/v1/rollouts/x/pause", "POST"),
        # A concrete path wins over a template, as in OpenAPI: /release is not a device id.
        ("PUT", "/v1/devices/release", "POST"),
    ],
)
async def test_a_405_lists_every_method_the_path_serves(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["detail"] == f"{method} is not served here; use {allow}."


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


async def test_malformed_json_names_the_line_and_column(probe_client: httpx.AsyncClient) -> None:
    body = b'{\n  "name": "x",\n  "count": ,\n}'
    response = await probe_client.post(
        "/_probe/body", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["detail"] == "The body is not valid JSON: Expecting value at line 3, column 12."
    assert problem["errors"] == [
        {"field": "body", "message": "Expecting value at line 3, column 12"}
    ]


async def test_a_body_that_is_not_utf8_is_a_400(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/_probe/body", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:problem:malformed-request"


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"name": "x", "count": 1}'),
        ("application/x-www-form-urlencoded", b"name=x&count=1"),
        (None, b'{"name": "x", "count": 1}'),
    ],
    ids=["text", "form", "no content type"],
)
async def test_a_body_that_is_not_json_is_a_415(
    probe_client: httpx.AsyncClient, content_type: str | None, content: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await probe_client.post("/_probe/body", content=content, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:problem:unsupported-media-type"
    assert problem["errors"] == [{"field": "Content-Type", "message": "must be application/json"}]


async def test_a_missing_body_says_a_json_body_is_required(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/_probe/body", headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "a JSON body is required (Content-Type: application/json)"}
    ]


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
