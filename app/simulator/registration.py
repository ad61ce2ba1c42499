"""Which device ids the simulated tenant knows, and the registration errors of the others.

With `known_devices` configured, any other id gets `invalidAzureADDeviceId`. Without it, a
deterministic rule on the id (lower-cased) decides, chosen so random uuid4 ids almost never hit it:
- not a GUID                → invalidAzureADDeviceId
- starts with "ffff"        → invalidAzureADJoin
- starts with "eeee"        → missingTrustType
- starts with "dddd"        → invalidGlobalDeviceId
- anything else             → no error
"""

from __future__ import annotations

import re
from collections.abc import Collection

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PREFIX_ERRORS = {
    "ffff": "invalidAzureADJoin",
    "eeee": "missingTrustType",
    "dddd": "invalidGlobalDeviceId",
}
ERROR_TYPE = "#microsoft.graph.windowsUpdates.azureADDeviceRegistrationError"


def registration_errors(device_id: str, known_devices: Collection[str] | None) -> list[str]:
    """The registration error reasons for a device id (empty when the tenant knows it)."""
    if known_devices is not None:
        return [] if device_id in known_devices else ["invalidAzureADDeviceId"]
    lowered = device_id.lower()
    if not GUID_RE.match(lowered):
        return ["invalidAzureADDeviceId"]
    return [reason for prefix, reason in PREFIX_ERRORS.items() if lowered.startswith(prefix)]
