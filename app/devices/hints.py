"""Plain-language advice for Graph's device registration errors: what the admin must fix."""

from __future__ import annotations

HINTS: dict[str, str] = {
    "invalidAzureADJoin": (
        "The device must be Microsoft Entra joined or Microsoft Entra hybrid joined; a device"
        " that is only registered (workplace-joined) cannot receive updates from this service."
        " Join it to Microsoft Entra ID (or finish hybrid join through Entra Connect), check"
        " that the Entra admin center shows it as joined, then add it to the rollout again."
    ),
    "invalidAzureADDeviceId": (
        "No Microsoft Entra device has this id: check that it is the Entra device id (Entra"
        " admin center → Devices → Device ID, or `dsregcmd /status` → DeviceId on the device),"
        " not the Intune device id, the Entra object id or the serial number, and that the"
        " device is in this tenant."
    ),
    "missingTrustType": (
        "The device's Microsoft Entra registration has no trust type: the registration is"
        " incomplete. Re-join the device to Microsoft Entra ID (or redo hybrid join) and check"
        " that the Entra admin center shows its join type, then add it again."
    ),
    "invalidGlobalDeviceId": (
        "Windows Update does not recognise the device's global device id: the device has not"
        " reported to Windows Update with the diagnostic data this service needs. Make sure it"
        " runs a supported Windows edition, sends the required diagnostic data (and allows"
        " Windows Update for Business cloud processing), and has recently checked in with"
        " Windows Update."
    ),
}


def hint_for(reason: str) -> str:
    """The advice for a registration error reason; a generic one naming an unknown reason."""
    return HINTS.get(
        reason,
        f"Graph reports the registration error '{reason}', which this service has no advice"
        " for: look it up under azureADDeviceRegistrationError in Microsoft's Windows Update"
        " for Business deployment service documentation, and check the device's Microsoft"
        " Entra registration.",
    )
