"""Puts the RateLimit-* headers of a request's rate-limit decision on its response.

The decision is made in the role dependency, once the caller is known, and kept on
`request.state` (the ASGI scope's "state"); this middleware adds its headers to the response
start, whatever made the response: the route's model, a Response the route built itself (a CSV
export), or a problem raised later (a 404 counts against the budget too). Headers already on the
response (a 429 carries its own) are left as they are.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.asgi import HttpMiddleware
from app.ratelimit.limiter import STATE_ATTRIBUTE, RateDecision


class RateLimitHeadersMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The dict request.state writes to: taken now, so that it is the same one even if a
        # layer further in passes a copy of the scope on.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = state.get(STATE_ATTRIBUTE)
                if isinstance(decision, RateDecision):
                    headers = MutableHeaders(scope=message)
                    for name, value in decision.headers().items():
                        if name not in headers:
                            headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
