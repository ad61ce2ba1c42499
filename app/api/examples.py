"""Request and response examples for Swagger, taken from the API contract (api.md)."""

from __future__ import annotations

from typing import Any

from app.rollouts.schemas import PILOT_SETTINGS

DEVICE_A = "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"
DEVICE_B = "5d2c7e10-8a4b-4c3e-9f21-7b6a5c4d3e02"
DEVICE_C = "9e4f1a2b-3c5d-4e6f-8a7b-1c2d3e4f5a03"

CREATE_ROLLOUT: dict[str, Any] = {
    "pilot": {
        "summary": "Windows 11 24H2 to a pilot ring, 100 devices a week",
        "value": {
            "name": "Windows 11 24H2 – pilot ring",
            "ticket": "CHG0012345",
            "reason": "Quarterly OS upgrade, pilot",
            "update": {"kind": "feature", "version": "Windows 11, version 24H2"},
            "devices": [DEVICE_A, DEVICE_B],
            "exclusions": [DEVICE_C],
            **PILOT_SETTINGS,
        },
    },
    "expedite": {
        "summary": "Expedite a security update",
        "value": {
            "name": "Expedite November security update",
            "ticket": "CHG0012400",
            "update": {
                "kind": "quality",
                "catalogEntryId": "<catalogEntryId from /v1/catalog/quality-updates>",
                "expedite": True,
            },
            "devices": [DEVICE_A],
        },
    },
}

PATCH_ROLLOUT: dict[str, Any] = {
    "slower": {
        "summary": "Slow the waves down and raise the rollback threshold",
        "value": {
            "schedule": {"waves": {"devicesPerWave": 50, "every": "P7D"}},
            "monitoring": [{"signal": "rollback", "thresholdPercent": 10, "action": "pause"}],
            "ticket": "CHG0012377",
            "reason": "Pilot feedback",
        },
    },
    "rename": {"summary": "Rename", "value": {"name": "Windows 11 24H2 – ring 1"}},
}

CHANGE_REQUEST: dict[str, Any] = {
    "ticket": {
        "summary": "With a ticket and a reason",
        "value": {"ticket": "CHG0012388", "reason": "Rollback rate rising in pilot"},
    }
}

AUDIENCE_CHANGE: dict[str, Any] = {
    "add": {
        "summary": "Add a floor and exclude one device",
        "value": {
            "addDevices": [DEVICE_A, DEVICE_B],
            "addExclusions": [DEVICE_C],
            "ticket": "CHG0012399",
            "reason": "Add finance floor 3",
        },
    },
    "remove": {
        "summary": "Remove a device",
        "value": {"removeDevices": [DEVICE_B], "ticket": "CHG0012401"},
    },
}

ARCHIVE_REQUEST: dict[str, Any] = {
    "release": {
        "summary": "Archive and release the devices that would stay held",
        "value": {
            "ticket": "CHG0012460",
            "reason": "Pilot finished",
            "releaseDevices": True,
        },
    },
    "keep": {
        "summary": "Archive, keep the devices enrolled",
        "value": {"ticket": "CHG0012460", "reason": "Pilot finished"},
    },
}
