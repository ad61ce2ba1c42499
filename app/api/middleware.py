"""ASGI middleware: request ids, input hygiene, access logs, body-size limit, last-resort 500s."""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.error_handlers import path_parameter
from app.api.problems import send_problem
from app.api_types import NUL, NUL_MESSAGE, REQUEST_ID_MAX_LENGTH
from app.observability.tracing import tag_request
from app.problems import FieldError, InternalError, PayloadTooLarge, ValidationFailed
from app.request_context import request_id_var

log = logging.getLogger("app.access")

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_PATTERN = f"^[A-Za-z0-9._:\\-]{{1,{REQUEST_ID_MAX_LENGTH}}}$"
_ACCEPTABLE_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def _incoming_request_id(scope: Scope) -> str:
    candidate = (_header(scope, REQUEST_ID_HEADER.encode()) or "").strip()
    return candidate if _ACCEPTABLE_REQUEST_ID.fullmatch(candidate) else str(uuid.uuid4())


def refused_input(scope: Scope) -> ValidationFailed | None:
    """A NUL in the path, a query parameter or a header, or an over-long request id: 422.

    One rule for every route, checked before any of them runs (bodies are checked by the
    request models): PostgreSQL cannot store a NUL, and none is ever sent to Graph.
    """
    errors: list[FieldError] = []
    if NUL in scope.get("path", ""):
        field = path_parameter(scope, NUL) or "path"
        errors.append(FieldError(field=field, message=NUL_MESSAGE))
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in name or NUL in value:
            errors.append(FieldError(field=name, message=NUL_MESSAGE))
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1")
        if b"\x00" in raw_value:
            errors.append(FieldError(field=name, message=NUL_MESSAGE))
        elif name == REQUEST_ID_HEADER and len(raw_value.strip()) > REQUEST_ID_MAX_LENGTH:
            errors.append(
                FieldError(field=name, message=f"at most {REQUEST_ID_MAX_LENGTH} characters")
            )
    if not errors:
        return None
    noun = "field is" if len(errors) == 1 else "fields are"
    return ValidationFailed(f"{len(errors)} {noun} invalid.", errors=errors)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _BodyTooLarge(Exception):
    """Raised inside receive() when a streamed body passes the limit."""


class RequestContextMiddleware:
    """Gives every request an id (the caller's X-Request-ID if sane), logs it, and
    guarantees an RFC 9457 answer — 413 for oversized bodies, 500 for anything unhandled."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = request_id_var.set(request_id)
        tag_request(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        received = 0

        answered_early = False

        async def limited_receive() -> Message:
            nonlocal received, answered_early
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not answered_early:
                    # Answer now; the app sees a disconnect and whatever it sends is dropped.
                    await send_problem(scope, send_with_id, self._too_large())
                    answered_early = True
                    return {"type": "http.disconnect"}
            return message

        async def send_with_id(message: Message) -> None:
            if answered_early:
                return
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            refused = refused_input(scope)
            if refused is not None:
                await send_problem(scope, send_with_id, refused)
                return
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                raise _BodyTooLarge
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if not status_holder["started"]:
                await send_problem(scope, send_with_id, self._too_large())
        except Exception:
            if answered_early:
                return
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not status_holder["started"]:
                await send_problem(
                    scope, send_with_id, InternalError("An unexpected error occurred.")
                )
        finally:
            log.info(
                "%s %s %s",
                scope.get("method"),
                scope.get("path"),
                status_holder["status"],
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "durationMs": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id_var.reset(token)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The body may be at most {self.max_body_bytes} bytes.")
