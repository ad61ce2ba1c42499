"""updateAudience / updateAudienceById: parsing and (asynchronous) application."""

from __future__ import annotations

from typing import Any

from app.simulator.assets import asset_list, check_cap, check_entity_type, ensure_device, id_list
from app.simulator.errors import bad_request
from app.simulator.models import Audience
from app.simulator.state import SimulatorState

OPERATIONS = ("addMembers", "removeMembers", "addExclusions", "removeExclusions")


def parse_update_audience(body: Any, *, by_id: bool, cap: int) -> dict[str, list[str]]:
    """The four id lists of an updateAudience(ById) body; 400 on anything malformed."""
    if not isinstance(body, dict):
        raise bad_request("Expected an object for 'body'.")
    allowed = {*OPERATIONS, "memberEntityType"} if by_id else set(OPERATIONS)
    for key in body:
        if key not in allowed and not key.startswith("@"):
            raise bad_request(
                f"Invalid request body: the property '{key}' is not a parameter.", key
            )
    if by_id:
        check_entity_type(body.get("memberEntityType"))
    parse = id_list if by_id else asset_list
    ops = {op: parse(body.get(op), op) for op in OPERATIONS}
    check_cap(sum(len(v) for v in ops.values()), cap)
    return ops


def update_audience(state: SimulatorState, audience: Audience, ops: dict[str, list[str]]) -> None:
    """Schedule the change; when it applies, added devices are registered as updatable assets."""
    state.schedule(f"updateAudience {audience.id}", lambda: _apply(state, audience, ops))


def _apply(state: SimulatorState, audience: Audience, ops: dict[str, list[str]]) -> None:
    for device_id in ops["addMembers"] + ops["addExclusions"]:
        ensure_device(state, device_id)
    for device_id in ops["addMembers"]:
        audience.members[device_id] = None
    for device_id in ops["removeMembers"]:
        audience.members.pop(device_id, None)
    for device_id in ops["addExclusions"]:
        audience.exclusions[device_id] = None
    for device_id in ops["removeExclusions"]:
        audience.exclusions.pop(device_id, None)
    if ops["addMembers"] or ops["addExclusions"]:
        audience.ever_used = True
