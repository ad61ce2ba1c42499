"""Updatable asset routes: list, read, and the four enrollment actions."""

from __future__ import annotations

from app.simulator.assets import change_enrollment, device_json, parse_enrollment_body
from app.simulator.call import GraphCall, Handler, Reply, Route, route
from app.simulator.errors import not_found
from app.simulator.paging import page
from app.simulator.query import PAGING


def list_all(call: GraphCall) -> Reply:
    """GET /updatableAssets, paged, in registration order."""
    return Reply(200, page(call, list(call.state.devices.values()), device_json))


def get_one(call: GraphCall) -> Reply:
    """GET /updatableAssets/{id} → the azureADDevice, or 404 when never registered."""
    device = call.state.devices.get(call.params["id"])
    if device is None:
        raise not_found("updatable asset")
    return Reply(200, device_json(device))


def _action(action: str, by_id: bool) -> Handler:
    def handler(call: GraphCall) -> Reply:
        category, ids = parse_enrollment_body(
            call.body, by_id=by_id, cap=call.state.max_ids_per_call
        )
        change_enrollment(call.state, action, category, ids)
        return Reply(202)

    return handler


ROUTES: list[Route] = [
    route("GET", "/updatableAssets", list_all, options=PAGING, context="updatableAssets"),
    route("POST", "/updatableAssets/{!enrollAssets}", _action("enroll", by_id=False)),
    route("POST", "/updatableAssets/{!enrollAssetsById}", _action("enroll", by_id=True)),
    route("POST", "/updatableAssets/{!unenrollAssets}", _action("unenroll", by_id=False)),
    route("POST", "/updatableAssets/{!unenrollAssetsById}", _action("unenroll", by_id=True)),
    route("GET", "/updatableAssets/{id}", get_one, context="updatableAssets/$entity"),
]
