"""Updatable assets (azureADDevice): registration, enrollment and their Graph bodies."""

from __future__ import annotations

import functools
from typing import Any

from app.simulator.catalog import category_of
from app.simulator.errors import bad_request
from app.simulator.models import CATEGORIES, Device, Enrollment
from app.simulator.registration import ERROR_TYPE, registration_errors
from app.simulator.state import SimulatorState
from app.simulator.timefmt import format_datetime
from app.simulator.validation import odata_type

DEVICE_TYPE = odata_type("azureADDevice")
ENROLL_TARGETS = {"enroll": ("enrolling", "enrolled"), "unenroll": ("unenrolling", "notEnrolled")}


def ensure_device(state: SimulatorState, device_id: str) -> Device:
    """The device with this id, registered (with its registration errors) if new."""
    device = state.devices.get(device_id)
    if device is None:
        now = state.now()
        device = Device(
            id=device_id,
            enrollment={c: Enrollment("notEnrolled", now) for c in CATEGORIES},
            errors=registration_errors(device_id, state.known_devices),
        )
        state.devices[device_id] = device
    return device


def device_json(device: Device) -> dict[str, Any]:
    """The azureADDevice body Graph returns."""
    return {
        "@odata.type": DEVICE_TYPE,
        "id": device.id,
        "enrollment": {
            category: {
                "enrollmentState": e.state,
                "lastModifiedDateTime": format_datetime(e.last_modified),
            }
            for category, e in device.enrollment.items()
        },
        "errors": [{"@odata.type": ERROR_TYPE, "reason": reason} for reason in device.errors],
    }


def change_enrollment(state: SimulatorState, action: str, category: str, ids: list[str]) -> None:
    """Start enrolling/unenrolling devices; they settle after the async delay.

    Devices with registration errors never finish enrolling: they stay `enrolling`. Unenrolling
    also takes each device out of the audiences of that category's deployments (see _unenrolled).
    """
    transient, final = ENROLL_TARGETS[action]
    for device_id in ids:
        device = ensure_device(state, device_id)
        current = device.enrollment[category].state
        settled = current == final or (action == "unenroll" and current == "notEnrolled")
        if not settled:
            device.enrollment[category] = Enrollment(transient, state.now())
        if action == "enroll":
            if not (settled or device.errors):
                settle = functools.partial(_settle, state, device, category, transient, final)
                state.schedule(f"enroll {device_id} ({category})", settle)
            continue
        unenroll = functools.partial(_unenrolled, state, device, category)
        state.schedule(f"unenroll {device_id} ({category})", unenroll)


def _settle(
    state: SimulatorState, device: Device, category: str, transient: str, final: str
) -> None:
    if device.enrollment[category].state == transient:
        device.enrollment[category] = Enrollment(final, state.now())


def _unenrolled(state: SimulatorState, device: Device, category: str) -> None:
    """The device is unenrolled and leaves every audience of that category's deployments.

    [doc] "Manage driver approvals" (concepts/windowsupdates-manage-driver-update.md, section
    "Unenroll from driver management"): "The unenrolled device is removed from all audiences and
    deployments that contains content for the given update category. The device remains
    registered with the service and is still enrolled ... for other update categories". Standalone
    audiences with no deployment hold no content, so they keep the device.
    """
    _settle(state, device, category, "unenrolling", "notEnrolled")
    for deployment in state.deployments.values():
        if category_of(deployment.entry_type) != category:
            continue
        audience = state.audiences.get(deployment.audience_id)
        if audience is not None:
            audience.members.pop(device.id, None)
            audience.exclusions.pop(device.id, None)


def parse_enrollment_body(body: Any, *, by_id: bool, cap: int) -> tuple[str, list[str]]:
    """(updateCategory, device ids) from an enrollAssets(ById)/unenrollAssets(ById) body."""
    if not isinstance(body, dict):
        raise bad_request("Expected an object for 'body'.")
    allowed = (
        {"updateCategory", "memberEntityType", "ids"} if by_id else {"updateCategory", "assets"}
    )
    for key in body:
        if key not in allowed and not key.startswith("@"):
            raise bad_request(
                f"Invalid request body: the property '{key}' is not a parameter.", key
            )
    category = body.get("updateCategory")
    if category not in CATEGORIES:
        raise bad_request(
            f"The value '{category}' is not valid for 'updateCategory'; use feature, quality or "
            "driver.",
            "updateCategory",
        )
    if by_id:
        check_entity_type(body.get("memberEntityType"))
        ids = id_list(body.get("ids"), "ids")
    else:
        ids = asset_list(body.get("assets"), "assets")
    check_cap(len(ids), cap)
    return category, ids


def check_entity_type(value: Any) -> None:
    """memberEntityType must name azureADDevice (with or without the leading '#')."""
    if not isinstance(value, str) or value.lstrip("#") != DEVICE_TYPE.lstrip("#"):
        raise bad_request(f"memberEntityType must be '{DEVICE_TYPE}'.", "memberEntityType")


def id_list(value: Any, name: str) -> list[str]:
    """A list of non-empty id strings (None counts as empty)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise bad_request(f"The parameter '{name}' must be an array of ids.", name)
    return list(value)


def asset_list(value: Any, name: str) -> list[str]:
    """Ids from a list of `{"@odata.type": azureADDevice, "id": …}` objects."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"The parameter '{name}' must be an array.", name)
    ids: list[str] = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise bad_request(f"'{where}' must be an object with an id.", where)
        kind = item.get("@odata.type")
        if not isinstance(kind, str) or kind.lstrip("#") != DEVICE_TYPE.lstrip("#"):
            raise bad_request(f"'{where}' must be a {DEVICE_TYPE.lstrip('#')}.", where)
        extra = set(item) - {"@odata.type", "id"}
        if extra:
            raise bad_request(f"Unknown property '{sorted(extra)[0]}' in '{where}'.", where)
        ids.append(item["id"])
    return ids


def check_cap(count: int, cap: int) -> None:
    """400 when one call carries more ids than the per-call cap."""
    if count > cap:
        raise bad_request(
            f"The request contains {count} ids; at most {cap} are allowed in one call."
        )
