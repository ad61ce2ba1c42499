"""ASGI middleware for `Idempotency-Key` on POST, PATCH and DELETE: the first response is
kept and replayed byte for byte; a different request with the key is 422; while the first is
still running, 409."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import send_problem
from app.api.security import authenticated
from app.idempotency.claim import claim_var
from app.idempotency.models import KEY_MAX_LENGTH, KEY_PATTERN
from app.idempotency.problems import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInterrupted,
    IdempotencyKeyReused,
)
from app.idempotency.store import IdempotencyStore, KeyedRequest, StoredResponse, Verdict
from app.problems import DatabaseUnavailable, FieldError, ProblemError, ValidationFailed
from app.request_context import request_id_var
from app.unit_of_work import is_connection_failure

HEADER = "idempotency-key"
MUTATING = frozenset({"POST", "PATCH", "DELETE"})
_KEY = re.compile(KEY_PATTERN)
# Not part of the kept response: they describe the moment of the first request.
_NOT_KEPT = ("x-request-id", "ratelimit-", "retry-after", "date", "server")


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 over what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the real stream's end."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class IdempotencyMiddleware:
    """Applies `Idempotency-Key` per authenticated caller; requests without the header, or
    whose caller is not authenticated, pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key(scope) if scope["type"] == "http" else None
        if key is None or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        if not _KEY.fullmatch(key):
            await send_problem(scope, send, _bad_key())
            return
        body = await _read_body(receive)
        if body is None:
            return
        receive = _replaying(body, receive)
        try:
            caller = await authenticated(Request(scope))
        except ProblemError:
            await self.app(scope, receive, send)  # the route answers 401 or 503
            return
        store: IdempotencyStore = scope["app"].state.services.idempotency
        keyed = KeyedRequest(
            caller=caller.name,
            key=key,
            fingerprint=fingerprint(
                scope["method"], scope["path"], scope.get("query_string", b""), body
            ),
            method=scope["method"],
            path=scope["path"],
            request_id=request_id_var.get(),
        )
        try:
            verdict = await store.claim(keyed)
        except DBAPIError as exc:
            if not is_connection_failure(exc):
                raise
            await send_problem(scope, send, DatabaseUnavailable("The database is unreachable."))
            return
        if verdict.kind != "run":
            await self._answer_without_running(scope, send, verdict)
            return
        assert verdict.claim is not None
        token = claim_var.set(verdict.claim)
        kept = _Recorder(send)
        try:
            await self.app(scope, receive, kept.send)
        except BaseException:
            await store.abandon(verdict.claim)
            raise
        finally:
            claim_var.reset(token)
        if kept.complete:
            await store.finish(verdict.claim, kept.response())
        else:
            await store.abandon(verdict.claim)

    @staticmethod
    async def _answer_without_running(scope: Scope, send: Send, verdict: Verdict) -> None:
        if verdict.kind == "replay":
            assert verdict.response is not None
            headers = [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in verdict.response.headers
            ]
            headers.append((b"idempotent-replayed", b"true"))
            await send(
                {
                    "type": "http.response.start",
                    "status": verdict.response.status,
                    "headers": headers,
                }
            )
            await send({"type": "http.response.body", "body": verdict.response.body})
            return
        first = f" (its request id: {verdict.first_request_id})" if verdict.first_request_id else ""
        problem: ProblemError
        if verdict.kind == "mismatch":
            problem = IdempotencyKeyReused(
                "This key was first sent with another method, path or body" + first + "; use a"
                " new key for a new request."
            )
        elif verdict.kind == "in_flight":
            problem = IdempotencyKeyInFlight(
                "The first request with this key" + first + " is still running; retry shortly"
                " to get its response.",
                headers={"Retry-After": "1"},
            )
        else:
            problem = IdempotencyKeyInterrupted(
                "The first request with this key" + first + " recorded its change and then"
                " stopped before answering. The change is carried out by the service's"
                " workers and is in the audit log; it is not made again. Look it up by your"
                " ticket, or by the rollout.",
            )
        await send_problem(scope, send, problem)


def _bad_key() -> ValidationFailed:
    return ValidationFailed(
        "1 field is invalid.",
        errors=[
            FieldError(
                field="Idempotency-Key",
                message=f"1 to {KEY_MAX_LENGTH} visible ASCII characters (a UUID is a good key)",
            )
        ],
    )


class _Recorder:
    """Passes a response through while keeping a copy of it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
        await self._send(message)

    def response(self) -> StoredResponse:
        headers = [(k, v) for k, v in self.headers if not k.lower().startswith(_NOT_KEPT)]
        return StoredResponse(status=self.status, headers=headers, body=b"".join(self.chunks))
