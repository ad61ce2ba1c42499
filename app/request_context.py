"""The current request's id, shared by logs, audit events and Graph's client-request-id."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str:
    """The id of the request being served, or a fresh one outside a request."""
    return request_id_var.get() or str(uuid.uuid4())
