"""Typed errors for every way a Graph call can fail, carrying Graph's code and request ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class GraphError(Exception):
    """A Graph call failed; `code` is Graph's error code, never branch on `message`."""

    default_code = "graphError"

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        request_id: str | None = None,
        client_request_id: str | None = None,
        retry_after: float | None = None,
        *,
        request_ids: tuple[str, ...] = (),
        outcome_unknown: bool = False,
    ) -> None:
        self.status = status
        self.code = code or self.default_code
        self.message = message
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.retry_after = retry_after
        ids = request_ids or ((request_id,) if request_id else ())
        self.request_ids: tuple[str, ...] = ids
        # True when a write may have been applied although it failed (timeout, lost response, 5xx).
        self.outcome_unknown = outcome_unknown
        # Our own ids the failure concerns (e.g. rolloutId), for the problem the caller gets.
        self.context: dict[str, str] = {}
        super().__init__(self.__str__())

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP status"
        ids = f"request-id {self.request_id}" if self.request_id else "no request-id"
        return f"Graph {status} {self.code}: {self.message} ({ids})"

    def with_request_ids(self, request_ids: tuple[str, ...]) -> GraphError:
        """The same error, naming every request id of the attempts that led to it."""
        if request_ids:
            self.request_ids = request_ids
        return self


class GraphBadRequest(GraphError):
    """400: Graph refused the request as invalid."""

    default_code = "BadRequest"


class GraphAuthError(GraphError):
    """No usable token: the API reports it as a 503 problem, never a 500."""

    default_code = "authenticationFailed"


class GraphUnauthorized(GraphAuthError):
    """401 twice in a row: Graph rejected a freshly obtained token (tenant, app or audience)."""

    default_code = "Unauthorized"


class GraphForbidden(GraphError):
    """403: a missing application permission OR a missing licence in the tenant."""

    default_code = "Forbidden"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hint = (
            "Graph refused the call (403). This can mean the app registration lacks the "
            "WindowsUpdates.ReadWrite.All application permission (with admin consent), OR the "
            "tenant lacks a licence that includes Windows Autopatch / Windows Update for Business "
            "deployment service."
        )
        self.message = f"{hint} Graph said: {self.message}"
        self.args = (self.__str__(),)


class GraphNotFound(GraphError):
    """404: the resource does not exist (or not yet: Graph applies writes asynchronously)."""

    default_code = "NotFound"


class GraphConflict(GraphError):
    """409: the resource's state does not allow the change."""

    default_code = "Conflict"


class GraphThrottled(GraphError):
    """429 still returned after the retry budget was spent; `retry_after` says how long to wait."""

    default_code = "TooManyRequests"


class GraphUnavailable(GraphError):
    """503, other 5xx after retries, or no connection: Graph could not be reached or served."""

    default_code = "ServiceUnavailable"


class GraphTimeout(GraphError):
    """The call timed out on every attempt; for a write, Graph may or may not have applied it."""

    default_code = "timeout"


_BY_STATUS: dict[int, type[GraphError]] = {
    400: GraphBadRequest,
    401: GraphUnauthorized,
    403: GraphForbidden,
    404: GraphNotFound,
    409: GraphConflict,
    429: GraphThrottled,
    503: GraphUnavailable,
}


def error_class_for(status: int) -> type[GraphError]:
    """The exception class for an HTTP status (other 5xx → GraphUnavailable)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return GraphUnavailable if status >= 500 else GraphError


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is read too)."""
    if value is None or not value.strip():
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _envelope(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of Graph's envelope, or {} for a non-JSON or odd body."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_from_response(response: httpx.Response) -> GraphError:
    """Build the typed error from a non-2xx Graph response, tolerating any body."""
    error = _envelope(response)
    inner = error.get("innerError") or error.get("innererror") or {}
    inner = inner if isinstance(inner, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    if not message:
        text = response.text.strip()[:200] if response.content else ""
        message = text or response.reason_phrase or "no error body"
    request_id = response.headers.get("request-id") or inner.get("request-id")
    client_request_id = response.headers.get("client-request-id") or inner.get("client-request-id")
    cls = error_class_for(response.status_code)
    return cls(
        response.status_code,
        code,
        message,
        request_id,
        client_request_id,
        parse_retry_after(response.headers.get("Retry-After")),
    )


# Failures that later calls of the same operation would meet too (see stops_further_calls).
_STOPPING: tuple[type[GraphError], ...] = (
    GraphAuthError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)


def stops_further_calls(error: GraphError) -> bool:
    """Would the next calls of the same operation (its later chunks) fail as this one did?

    True (stop; report the rest as not attempted instead of sending them to fail alike):
    - GraphAuthError (no token, or 401 on a fresh one): no call will authenticate.
    - GraphForbidden (403): a missing permission or licence refuses every call alike.
    - GraphNotFound (404): the deployment or its audience is gone for every chunk.
    - GraphThrottled: the retry budget is spent while Graph still throttles the whole app.
    - GraphTimeout, GraphUnavailable (5xx, no connection): Graph is not serving; more calls
      would only add load and fail too.
    False (go on): GraphBadRequest (400), GraphConflict (409), an unmapped 4xx or a refused
    nextLink refuse what this one call carried (one chunk's ids, a change the resource's state
    does not allow); each costs one call, the next may pass, and every chunk keeps its own answer.
    """
    return isinstance(error, _STOPPING)


def is_transient(error: GraphError) -> bool:
    """Graph is down or throttling (not refusing this request): the same call may pass later.
    A durable operation waits and tries again instead of failing its devices."""
    return isinstance(error, GraphUnavailable | GraphThrottled | GraphTimeout) and not isinstance(
        error, GraphAuthError
    )
