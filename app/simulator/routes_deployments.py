"""Deployment routes: create, list, read, PATCH and DELETE."""

from __future__ import annotations

from app.simulator.call import GraphCall, Handler, Reply, Route, route
from app.simulator.deployments import (
    create_deployment,
    delete_deployment,
    deployment_json,
    patch_deployment,
)
from app.simulator.errors import not_found
from app.simulator.models import Deployment
from app.simulator.paging import page
from app.simulator.query import PAGING
from app.simulator.validation import NS

EXPANDABLE = frozenset({"audience"})


def find_deployment(call: GraphCall) -> Deployment:
    """The deployment named in the path, or 404."""
    dep = call.state.deployments.get(call.params["id"])
    if dep is None:
        raise not_found("deployment")
    return dep


def _render(call: GraphCall, dep: Deployment) -> dict[str, object]:
    return deployment_json(
        call.state,
        dep,
        include_unknown_enum=call.include_unknown_enum,
        expand_audience=call.expands("audience"),
    )


def create(call: GraphCall) -> Reply:
    """POST /deployments → 201 and the deployment."""
    return Reply(201, _render(call, create_deployment(call.state, call.body)))


def list_all(call: GraphCall) -> Reply:
    """GET /deployments, paged, oldest first."""
    return Reply(200, page(call, [_render(call, d) for d in call.state.deployments.values()]))


def get_one(call: GraphCall) -> Reply:
    """GET /deployments/{id} (supports $expand=audience)."""
    return Reply(200, _render(call, find_deployment(call)))


def patch(call: GraphCall) -> Reply:
    """PATCH /deployments/{id} → 202 and the updated deployment."""
    dep = find_deployment(call)
    patch_deployment(call.state, dep, call.body)
    return Reply(202, _render(call, dep))


def delete(call: GraphCall) -> Reply:
    """DELETE /deployments/{id} → 202, no body."""
    delete_deployment(call.state, find_deployment(call))
    return Reply(202)


def _deployment_route(method: str, pattern: str, handler: Handler, context: str) -> Route:
    return route(
        method,
        pattern,
        handler,
        options=PAGING if context == "deployments{expand}" else frozenset(),
        expandable=EXPANDABLE,
        entity_type=f"{NS}.deployment",
        context=context,
    )


ROUTES: list[Route] = [
    _deployment_route("POST", "/deployments", create, "deployments{expand}/$entity"),
    _deployment_route("GET", "/deployments", list_all, "deployments{expand}"),
    _deployment_route("GET", "/deployments/{id}", get_one, "deployments{expand}/$entity"),
    _deployment_route("PATCH", "/deployments/{id}", patch, "deployments{expand}/$entity"),
    route("DELETE", "/deployments/{id}", delete),
]
