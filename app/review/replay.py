"""Carrying out an approved change: its request, sent again through the service's own ASGI app
as its requester sent it, with the requester as the caller and the approver named.

The principal is handed over in the ASGI scope's state, which only code in this process can set:
no header a client sends can make a request pass for an approved one. The request carries an
Idempotency-Key derived from the change, so approving twice (or again after a crash) carries it
out once and answers the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

from app.auth.roles import Principal


@dataclass(frozen=True)
class Answer:
    """The carried-out request's answer."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def idempotency_key(change_id: str) -> str:
    """The key every carrying-out of one change is sent with."""
    return f"change-{change_id}"


async def carry_out(
    app: ASGIApp,
    request: dict[str, Any],
    requester: Principal,
    *,
    change_id: str | None,
    request_id: str | None,
) -> Answer:
    """Send `request` ({method, path, query, body}) through `app` as `requester`, with the
    Idempotency-Key of `change_id` (None: a dry run, which needs none)."""
    body = json.dumps(request["body"]).encode() if request.get("body") is not None else b""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if change_id is not None:
        headers.append((b"idempotency-key", idempotency_key(change_id).encode()))
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    path = str(request["path"])
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": str(request["method"]),
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(request.get("query") or {}).encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("autopatch-rollouts.internal", 80),
        "state": {"principal": requester},
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 500
    response_headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            response_headers.extend(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, response_headers, b"".join(chunks))
