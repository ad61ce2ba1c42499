"""Audience routes, under /deploymentAudiences/{id} and /deployments/{id}/audience alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.simulator.assets import device_json, ensure_device
from app.simulator.audiences import parse_update_audience, update_audience
from app.simulator.call import GraphCall, Handler, Reply, Route, route
from app.simulator.deployments import audience_json, create_audience
from app.simulator.errors import not_found
from app.simulator.models import Audience
from app.simulator.paging import page
from app.simulator.query import PAGING
from app.simulator.routes_deployments import find_deployment


def standalone_audience(call: GraphCall) -> Audience:
    """The audience named by /deploymentAudiences/{id}, or 404."""
    audience = call.state.audiences.get(call.params["id"])
    if audience is None:
        raise not_found("deployment audience")
    return audience


def deployment_audience(call: GraphCall) -> Audience:
    """The audience of the deployment named by /deployments/{id}, or 404."""
    return call.state.audiences[find_deployment(call).audience_id]


def create(call: GraphCall) -> Reply:
    """POST /deploymentAudiences `{}` → 201 and a new standalone audience."""
    return Reply(201, audience_json(create_audience(call.state, standalone=True)))


def list_all(call: GraphCall) -> Reply:
    """GET /deploymentAudiences, paged."""
    return Reply(200, page(call, [audience_json(a) for a in call.state.audiences.values()]))


def _get(find: Callable[[GraphCall], Audience]) -> Handler:
    return lambda call: Reply(200, audience_json(find(call)))


def _listing(find: Callable[[GraphCall], Audience], collection: str) -> Handler:
    def handler(call: GraphCall) -> Reply:
        audience = find(call)
        if call.state.empty_audience_404 and not audience.ever_used:
            raise not_found("deployment audience")
        ids = audience.members if collection == "members" else audience.exclusions

        def render(device_id: str) -> dict[str, Any]:
            return device_json(ensure_device(call.state, device_id))

        return Reply(200, page(call, ids.in_order(), render))

    return handler


def _update(find: Callable[[GraphCall], Audience], by_id: bool) -> Handler:
    def handler(call: GraphCall) -> Reply:
        audience = find(call)
        ops = parse_update_audience(call.body, by_id=by_id, cap=call.state.max_ids_per_call)
        update_audience(call.state, audience, ops)
        return Reply(202)

    return handler


def _routes(
    prefix: str, find: Callable[[GraphCall], Audience], entity: str, nav: str
) -> list[Route]:
    """The audience routes under `prefix`; `entity`/`nav`: its @odata.context and that of its
    navigation collections."""
    return [
        route("GET", prefix, _get(find), context=entity),
        route(
            "GET",
            f"{prefix}/members",
            _listing(find, "members"),
            options=PAGING,
            context=f"{nav}/members",
        ),
        route(
            "GET",
            f"{prefix}/exclusions",
            _listing(find, "exclusions"),
            options=PAGING,
            context=f"{nav}/exclusions",
        ),
        route("POST", prefix + "/{!updateAudience}", _update(find, by_id=False)),
        route("POST", prefix + "/{!updateAudienceById}", _update(find, by_id=True)),
    ]


ROUTES: list[Route] = [
    route("POST", "/deploymentAudiences", create, context="deploymentAudiences/$entity"),
    route("GET", "/deploymentAudiences", list_all, options=PAGING, context="deploymentAudiences"),
    *_routes(
        "/deploymentAudiences/{id}",
        standalone_audience,
        "deploymentAudiences/$entity",
        "deploymentAudiences('{id}')",
    ),
    *_routes(
        "/deployments/{id}/audience",
        deployment_audience,
        "deployments('{id}')/audience/$entity",
        "deployments('{id}')/audience",
    ),
]
