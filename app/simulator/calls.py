"""The record of every call the simulator received, for tests to assert on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GRAPH_PREFIX = "/beta/"


@dataclass(frozen=True)
class CallRecord:
    """One received call: what came in and what status went out."""

    method: str
    path: str
    query: str
    status: int
    body: Any
    request_id: str
    client_request_id: str | None

    @property
    def is_graph(self) -> bool:
        """True for calls to the Graph API (under /beta), False for the identity endpoints."""
        return self.path.startswith(GRAPH_PREFIX)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (snake_case keys)."""
        return asdict(self)


def matches(
    call: CallRecord,
    *,
    method: str | None = None,
    path_contains: str | None = None,
    status: int | None = None,
    path_endswith: str | None = None,
) -> bool:
    """True when the call fits every filter that is not None (`path_endswith` tells a POST to
    /deployments from the actions under /deployments/{id}, which `path_contains` also matches)."""
    if method is not None and call.method != method.upper():
        return False
    if path_contains is not None and path_contains not in call.path:
        return False
    if path_endswith is not None and not call.path.endswith(path_endswith):
        return False
    return status is None or call.status == status
