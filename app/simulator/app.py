"""The simulator ASGI app: Graph under /beta, identity under /{tenant}, admin at /_simulator."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from app.simulator import admin, identity
from app.simulator.access_log import AccessLog
from app.simulator.graph_endpoint import graph_endpoint
from app.simulator.state import SimulatorState

ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def create_simulator_app(state: SimulatorState | None = None) -> Starlette:
    """A Starlette app serving one simulator (one access log line per request, see access_log);
    its state is also `app.state.simulator`."""
    app = Starlette(
        routes=[
            Mount("/_simulator", routes=admin.ROUTES),
            Route("/beta/{rest:path}", graph_endpoint, methods=ALL_METHODS),
            Route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                identity.openid_configuration,
                methods=["GET"],
            ),
            Route("/{tenant}/oauth2/v2.0/token", identity.token, methods=["POST"]),
            Route("/{tenant}/discovery/v2.0/keys", identity.jwks, methods=["GET"]),
        ],
        middleware=[Middleware(AccessLog)],
    )
    app.state.simulator = state if state is not None else SimulatorState()
    return app
