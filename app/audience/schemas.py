"""Public API models of audience changes and listings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from app.api_types import (
    MAX_DEVICES_PER_REQUEST,
    DeviceIdList,
    Reason,
    StrictModel,
    Ticket,
    UtcOut,
)

DEVICE_LISTS = ("addDevices", "removeDevices", "addExclusions", "removeExclusions")


class AudienceChangeRequest(StrictModel):
    """Devices to add to or remove from a rollout's members and exclusions."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": [name], "properties": {name: {"minItems": 1}}} for name in DEVICE_LISTS
        ]
    }

    addDevices: DeviceIdList = Field(default_factory=list)
    removeDevices: DeviceIdList = Field(default_factory=list)
    addExclusions: DeviceIdList = Field(default_factory=list)
    removeExclusions: DeviceIdList = Field(default_factory=list)
    ticket: Ticket | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> AudienceChangeRequest:
        total = sum(len(getattr(self, name)) for name in DEVICE_LISTS)
        if total == 0:
            raise ValueError("name at least one device to add or remove")
        if total > MAX_DEVICES_PER_REQUEST:
            raise ValueError(
                f"at most {MAX_DEVICES_PER_REQUEST} device ids in one request, got {total}"
            )
        return self


class AudienceDeviceOut(BaseModel):
    """A device in a rollout's audience, as the service last confirmed it."""

    deviceId: str
    membership: Literal["member", "excluded"]
    confirmedAt: UtcOut
