"""Graph's error envelope (and anything else) becomes a typed error with Graph's ids."""

from __future__ import annotations

import httpx
import pytest

from app.graph.errors import (
    GraphAuthError,
    GraphBadRequest,
    GraphConflict,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    error_from_response,
    parse_retry_after,
    stops_further_calls,
)


def _envelope(code: str, message: str) -> dict[str, object]:
    inner = {
        "request-id": "rid-inner",
        "client-request-id": "cid-inner",
        "date": "2026-01-01T00:00:00",
    }
    return {"error": {"code": code, "message": message, "innerError": inner}}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, GraphBadRequest),
        (401, GraphUnauthorized),
        (403, GraphForbidden),
        (404, GraphNotFound),
        (429, GraphThrottled),
        (500, GraphUnavailable),
        (503, GraphUnavailable),
        (418, GraphError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[GraphError]) -> None:
    error = error_from_response(httpx.Response(status, json=_envelope("SomeCode", "went wrong")))
    assert type(error) is cls
    assert error.status == status
    assert error.code == "SomeCode"
    assert error.request_id == "rid-inner"
    assert error.client_request_id == "cid-inner"
    assert "went wrong" in error.message


def test_headers_win_and_retry_after_is_read() -> None:
    response = httpx.Response(
        429,
        headers={"request-id": "rid-h", "client-request-id": "cid-h", "Retry-After": "7"},
        json=_envelope("TooManyRequests", "slow down"),
    )
    error = error_from_response(response)
    assert (error.request_id, error.client_request_id, error.retry_after) == ("rid-h", "cid-h", 7.0)
    assert error.request_ids == ("rid-h",)


def test_non_json_body_is_tolerated() -> None:
    error = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(error, GraphUnavailable)
    assert error.code == "ServiceUnavailable"
    assert "Bad Gateway" in error.message
    empty = error_from_response(httpx.Response(404))
    assert isinstance(empty, GraphNotFound) and empty.code == "NotFound"


def test_forbidden_names_permission_and_licence() -> None:
    error = error_from_response(httpx.Response(403, json=_envelope("Forbidden", "nope")))
    assert "permission" in error.message and "licence" in error.message
    assert "nope" in str(error)


def test_unauthorized_is_an_auth_error() -> None:
    assert issubclass(GraphUnauthorized, GraphAuthError)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize(
    ("error", "stops"),
    [
        (GraphAuthError(None, "invalid_client", "no token"), True),
        (GraphUnauthorized(401, None, "token refused"), True),
        (GraphForbidden(403, None, "no licence"), True),
        (GraphNotFound(404, None, "deployment gone"), True),
        (GraphThrottled(429, None, "slow down", retry_after=30.0), True),
        (GraphTimeout(None, "timeout", "no answer"), True),
        (GraphUnavailable(503, None, "down"), True),
        (GraphUnavailable(None, "connectFailed", "refused"), True),
        (GraphBadRequest(400, None, "one chunk's ids refused"), False),
        (GraphConflict(409, None, "state does not allow it"), False),
        (GraphError(413, None, "too large"), False),
        (GraphError(None, "foreignNextLink", "refused link"), False),
    ],
)
def test_which_failures_stop_the_next_calls(error: GraphError, stops: bool) -> None:
    assert stops_further_calls(error) is stops


def test_the_stop_rule_follows_the_status_graph_answered() -> None:
    def answered(status: int) -> bool:
        return stops_further_calls(error_from_response(httpx.Response(status)))

    statuses = (400, 401, 403, 404, 409, 429, 500, 502, 503, 504)
    assert {s for s in statuses if answered(s)} == {401, 403, 404, 429, 500, 502, 503, 504}
