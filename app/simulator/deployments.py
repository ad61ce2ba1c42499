"""Creating, changing and deleting deployments, and rendering them as Graph does."""

from __future__ import annotations

from typing import Any

from app.simulator.deployment_state import state_json
from app.simulator.errors import GraphError, bad_request
from app.simulator.models import Audience, Deployment
from app.simulator.monitoring import trips_pause
from app.simulator.rules import check_settings
from app.simulator.state import SimulatorState
from app.simulator.timefmt import format_datetime
from app.simulator.validation import NS, odata_type, validate_object

PATCHABLE = ("settings", "state")
FIXED_AT_CREATION = ("content", "audience")


def audience_json(audience: Audience) -> dict[str, Any]:
    """A deploymentAudience body (navigation collections are not expanded)."""
    return {"@odata.type": odata_type("deploymentAudience"), "id": audience.id}


def create_audience(state: SimulatorState, *, standalone: bool) -> Audience:
    """A new, empty audience: standalone (POST /deploymentAudiences) or made with a deployment."""
    audience = Audience(id=state.new_id(), created=state.now(), standalone=standalone)
    state.audiences[audience.id] = audience
    return audience


def _entry_for(state: SimulatorState, content: dict[str, Any]) -> dict[str, Any]:
    ref = content["catalogEntry"]
    entry = state.catalog.get(ref["id"])
    if entry is None:
        raise bad_request(
            f"The catalog entry '{ref['id']}' does not exist.", "content.catalogEntry.id"
        )
    named = ref["@odata.type"]
    if named != odata_type("catalogEntry") and named != entry["@odata.type"]:
        raise bad_request(
            f"The catalog entry '{ref['id']}' is a {entry['@odata.type']}, not {named}.",
            "content.catalogEntry",
        )
    return entry


RATE_DRIVEN = odata_type("rateDrivenRolloutSettings")


def _with_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill the documented defaults of a gradual rollout.

    [doc] rateDrivenRolloutSettings resource page: durationBetweenOffers "Default value is `P1D`";
    devicesPerOffer "When devicesPerOffer is not set, all devices in the deployment are offered
    content at the same time" - so it may be left out, and reads back as null (unset).
    """
    rollout = (settings.get("schedule") or {}).get("gradualRollout")
    if rollout and rollout.get("durationBetweenOffers") is None:
        rollout["durationBetweenOffers"] = "P1D"
    if rollout and rollout.get("@odata.type") == RATE_DRIVEN:
        rollout.setdefault("devicesPerOffer", None)
    return settings


def create_deployment(state: SimulatorState, body: Any) -> Deployment:
    """Validate a create body like Graph, then store the deployment (and maybe its audience)."""
    data = validate_object(body, "deployment")
    entry = _entry_for(state, data["content"])
    settings = _with_defaults(
        data.get("settings") or {"@odata.type": odata_type("deploymentSettings")}
    )
    check_settings(settings, entry)
    requested = (data.get("state") or {}).get("requestedValue", "none")
    if requested == "archived":
        raise bad_request("A deployment cannot be created archived.", "state.requestedValue")
    audience = _bind_audience(state, data.get("audience"))
    now = state.now()
    dep = Deployment(
        id=state.new_id(),
        entry_id=entry["id"],
        entry_type=entry["@odata.type"],
        settings=settings,
        audience_id="",
        created=now,
        last_modified=now,
        requested=requested,
    )
    if audience is None:
        audience = create_audience(state, standalone=False)
    audience.deployment_id = dep.id
    dep.audience_id = audience.id
    state.deployments[dep.id] = dep
    return dep


def _bind_audience(state: SimulatorState, ref: dict[str, Any] | None) -> Audience | None:
    if ref is None:
        return None
    audience = state.audiences.get(ref["id"])
    if audience is None:
        raise bad_request(f"The deployment audience '{ref['id']}' does not exist.", "audience.id")
    if audience.deployment_id is not None:
        raise GraphError(
            409,
            "Conflict",
            f"The deployment audience '{audience.id}' already backs deployment "
            f"'{audience.deployment_id}'.",
            target="audience.id",
        )
    return audience


def patch_deployment(state: SimulatorState, dep: Deployment, body: Any) -> None:
    """Apply a PATCH of `state.requestedValue` and/or `settings`, refusing anything else."""
    if not isinstance(body, dict):
        raise bad_request("Expected an object for 'body'.")
    for key in body:
        if key.startswith("@") or key in PATCHABLE:
            continue
        if key in FIXED_AT_CREATION:
            raise bad_request(f"The property '{key}' cannot be changed after creation.", key)
        raise bad_request(
            f"Invalid request body: the property '{key}' does not exist on type "
            f"'{NS}.deployment' or cannot be updated.",
            key,
        )
    if dep.requested == "archived":
        raise GraphError(
            409,
            "Conflict",
            f"The deployment '{dep.id}' is archived; its state and settings cannot change.",
        )
    settings = dep.settings
    if "settings" in body:
        patch = validate_object(body["settings"], "deploymentSettings", "settings")
        settings = {**dep.settings, **{k: v for k, v in patch.items() if not k.startswith("@")}}
        check_settings(_with_defaults(settings), state.catalog[dep.entry_id])
    requested = dep.requested
    if "state" in body:
        requested = validate_object(body["state"], "deploymentState", "state")["requestedValue"]
    dep.settings = settings
    dep.requested = requested
    dep.paused_by_monitoring = trips_pause(settings, state.monitoring_signals.get(dep.id))
    dep.last_modified = state.now()
    dep.patched = True


def delete_deployment(state: SimulatorState, dep: Deployment) -> None:
    """Remove a deployment; its own audience goes too, a bound standalone one is freed."""
    del state.deployments[dep.id]
    state.monitoring_signals.pop(dep.id, None)
    audience = state.audiences.get(dep.audience_id)
    if audience is not None and audience.standalone:
        audience.deployment_id = None
    elif audience is not None:
        del state.audiences[audience.id]


def deployment_json(
    state: SimulatorState, dep: Deployment, *, include_unknown_enum: bool, expand_audience: bool
) -> dict[str, Any]:
    """The deployment body Graph returns."""
    entry = state.catalog[dep.entry_id]
    body: dict[str, Any] = {
        "@odata.type": odata_type("deployment"),
        "id": dep.id,
        "createdDateTime": format_datetime(dep.created),
        "lastModifiedDateTime": format_datetime(dep.last_modified),
        "content": {
            "@odata.type": odata_type("catalogContent"),
            "catalogEntry": {"@odata.type": dep.entry_type, "id": dep.entry_id},
        },
        "settings": dep.settings,
        "state": state_json(dep, entry, state.now(), include_unknown_enum),
    }
    if expand_audience:
        body["audience"] = audience_json(state.audiences[dep.audience_id])
    return body
