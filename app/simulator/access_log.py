"""One INFO log line per request the simulator serves, through the `app.simulator` logger.

The line names the method, path (with its query), status, duration and the request id the
simulator gave the request: Graph's `request-id` header, the token endpoint's
`x-ms-request-id`, or (admin and discovery answers, which have neither) a fresh id this
middleware adds as `request-id`. The caller's `client-request-id` is logged too when sent, so a
line can be matched with the caller's own logs.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.asgi import HttpMiddleware

log = logging.getLogger("app.simulator")


class AccessLog(HttpMiddleware):
    """ASGI middleware writing the access line of every HTTP request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        seen: dict[str, object] = {"status": 500, "request_id": "-"}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                request_id = headers.get("request-id") or headers.get("x-ms-request-id")
                if request_id is None:
                    request_id = str(uuid.uuid4())
                    headers.append("request-id", request_id)
                seen.update(status=message["status"], request_id=request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            _write(scope, seen, (time.perf_counter() - started) * 1000)


def _write(scope: Scope, seen: dict[str, object], duration_ms: float) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope["path"] + (f"?{query}" if query else "")
    client_request_id = Headers(scope=scope).get("client-request-id")
    log.info(
        "%s %s %s %.1fms request-id=%s%s",
        scope["method"],
        path,
        seen["status"],
        duration_ms,
        seen["request_id"],
        f" client-request-id={client_request_id}" if client_request_id else "",
        extra={
            "method": scope["method"],
            "path": path,
            "status": seen["status"],
            "durationMs": round(duration_ms, 1),
            "simulatorRequestId": seen["request_id"],
            "clientRequestId": client_request_id,
        },
    )
