"""Logs are one JSON object a line and carry the id of the request that wrote them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from app.logging_setup import configure_logging


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """JSON logging into a buffer for the length of a test, then back to quiet."""
    configure_logging("info", "json")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    configure_logging("warning", "console")


async def test_access_log_line_is_json_with_the_request_id(
    client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    await client.get("/healthz", headers={"X-Request-ID": "trace-me-7"})
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "app.access"]
    assert len(access) == 1
    assert access[0]["requestId"] == "trace-me-7"
    assert access[0]["message"] == "GET /healthz 200"
    assert access[0]["status"] == 200
    assert access[0]["level"] == "info"
    assert isinstance(access[0]["durationMs"], float)


def test_a_log_line_outside_a_request_has_no_request_id(log_stream: io.StringIO) -> None:
    logging.getLogger("app.test").warning("hello %s", "world", extra={"rolloutId": "r1"})
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["requestId"] is None
    assert line["rolloutId"] == "r1"
