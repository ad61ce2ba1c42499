"""The catalog the simulator starts with: Windows feature updates and a few quality updates."""

from __future__ import annotations

import copy
from typing import Any

NS = "microsoft.graph.windowsUpdates"
FEATURE_TYPE = f"#{NS}.featureUpdateCatalogEntry"
QUALITY_TYPE = f"#{NS}.qualityUpdateCatalogEntry"

# Ids from Microsoft's "Deploy a feature update" page (real).
WIN11_22H2 = "d9049ddb-0ca8-4bc1-bd3c-41a456ef300f"
WIN11_21H2 = "7f4cee4c-9aa5-4e61-a4ca-c23a1bdba6f7"
WIN10_22H2 = "f341705b-0b15-4ce3-aaf2-6a1681d78606"
WIN10_21H2 = "53707a30-7816-448e-ab54-8cfedc48bfbc"
# MADE UP: fixed GUIDs chosen for the simulator; Graph's real ids for these builds differ.
WIN11_23H2 = "32c1a762-ac55-4efc-847a-bef9dee77d4a"
WIN11_24H2 = "149045f7-c567-4187-ba89-9ec7a6ca42ba"
WIN11_25H2 = "47ec1f32-176b-4928-aa40-d9c74357a811"

# MADE UP: quality update ids (Graph's are 64 hex characters too) and the CVE numbers below.
QUALITY_2026_11_B = "3af1f426123e76090427576d879f4703232a829398b297602ab203f4119390f4"
QUALITY_2026_10_OOB = "a8ec63a9b1f437c70ce0fb1acf699e8eaf8229a2d804396429c27259ec29f2ee"
QUALITY_2026_10_D = "1c79476a70230f6a2a448f515750e59f059b4397e072938e3b8e7c993422ba06"
QUALITY_2026_10_B = "74e0de64b126288496169347f0a2f4f58e68a04928813a6961d52d5223ecc4c3"
QUALITY_2025_11_B = "d85d9b71a9a5da7897573d0e51a3bf4934771da5e78537dd2de4432f8755e114"


def _feature(entry_id: str, name: str, build: str, released: str, until: str) -> dict[str, Any]:
    return {
        "@odata.type": FEATURE_TYPE,
        "id": entry_id,
        "displayName": name,
        "deployableUntilDateTime": f"{until}T00:00:00Z",
        "releaseDateTime": f"{released}T00:00:00Z",
        "version": name,
        "buildNumber": build,
    }


def _cves(severity: str, score: float | None, exploited: list[str]) -> dict[str, Any]:
    return {
        "maxSeverity": severity,
        "maxBaseScore": score,
        "exploitedCves": [
            {"number": cve, "url": f"https://msrc.microsoft.com/update-guide/vulnerability/{cve}"}
            for cve in exploited
        ],
    }


def _quality(
    entry_id: str,
    short: str,
    released: str,
    *,
    classification: str,
    cadence: str,
    expeditable: bool,
    cves: dict[str, Any] | None,
) -> dict[str, Any]:
    """A quality entry shaped like those of Microsoft's expedite and hotpatch pages.

    [doc] concepts/windowsupdates-deploy-expedited-update.md and windowsupdates-hotpatch-update.md
    (Step 1 responses): every quality entry has `"deployableUntilDateTime": null`; display names
    read "12/12/2023 - 2023.12 B SecurityUpdate for Windows 10 and later" and "11/30/2023 -
    2023.11 D Update for Windows 10 and later", catalog names "2023-11 Cumulative Update Preview
    for Windows 10 and later" for a D (preview) release.
    """
    year, month, day = released.split("-")
    kind = "SecurityUpdate" if classification == "security" else "Update"
    preview = " Preview" if short.endswith(" D") else ""
    return {
        "@odata.type": QUALITY_TYPE,
        "id": entry_id,
        "displayName": f"{month}/{day}/{year} - {short} {kind} for Windows 10 and later",
        "deployableUntilDateTime": None,
        "releaseDateTime": f"{released}T00:00:00Z",
        "shortName": short,
        "catalogName": f"{year}-{month} Cumulative Update{preview} for Windows 10 and later",
        "isExpeditable": expeditable,
        "qualityUpdateClassification": classification,
        "qualityUpdateCadence": cadence,
        "cveSeverityInformation": cves,
    }


_SEED: list[dict[str, Any]] = [
    _feature(WIN11_22H2, "Windows 11, version 22H2", "22621", "2022-09-20", "2025-10-14"),
    {
        **_feature(WIN11_21H2, "Windows 11, version 21H2", "22000", "2021-10-04", "2024-10-08"),
        "displayName": "Windows 11",  # as in Microsoft's example
    },
    _feature(WIN10_22H2, "Windows 10, version 22H2", "19045", "2022-10-18", "2025-10-14"),
    _feature(WIN10_21H2, "Windows 10, version 21H2", "19044", "2021-11-16", "2024-06-11"),
    # Real release dates; deployableUntil = end of Enterprise servicing (plausible, not from Graph).
    _feature(WIN11_23H2, "Windows 11, version 23H2", "22631", "2023-10-31", "2026-11-10"),
    _feature(WIN11_24H2, "Windows 11, version 24H2", "26100", "2024-10-01", "2027-10-12"),
    _feature(WIN11_25H2, "Windows 11, version 25H2", "26200", "2025-09-30", "2028-10-10"),
    _quality(
        QUALITY_2026_11_B,
        "2026.11 B",
        "2026-11-10",
        classification="security",
        cadence="monthly",
        expeditable=True,
        cves=_cves("critical", 9.8, ["CVE-2026-41901", "CVE-2026-41933"]),
    ),
    _quality(
        QUALITY_2026_10_OOB,
        "2026.10 OOB",
        "2026-10-23",
        classification="security",
        cadence="outOfBand",
        expeditable=True,
        cves=_cves("important", 8.1, ["CVE-2026-40877"]),
    ),
    _quality(
        QUALITY_2026_10_D,
        "2026.10 D",
        "2026-10-27",
        classification="nonSecurity",
        cadence="monthly",
        expeditable=False,
        cves=None,
    ),
    _quality(
        QUALITY_2026_10_B,
        "2026.10 B",
        "2026-10-13",
        classification="security",
        cadence="monthly",
        expeditable=False,
        cves=_cves("important", 7.8, []),
    ),
    _quality(
        QUALITY_2025_11_B,
        "2025.11 B",
        "2025-11-11",
        classification="security",
        cadence="monthly",
        expeditable=False,
        cves=_cves("critical", 9.1, ["CVE-2025-60724"]),
    ),
]


def seed_catalog() -> dict[str, dict[str, Any]]:
    """A fresh copy of the seed catalog, keyed by entry id, newest-first within each kind."""
    return {entry["id"]: copy.deepcopy(entry) for entry in _SEED}


CATEGORY_OF_TYPE = {FEATURE_TYPE: "feature", QUALITY_TYPE: "quality"}


def category_of(entry_type: str) -> str | None:
    """The update category (feature, quality) of a catalog entry's @odata.type."""
    return CATEGORY_OF_TYPE.get(entry_type)


def is_feature(entry: dict[str, Any]) -> bool:
    """True for a featureUpdateCatalogEntry."""
    return bool(entry.get("@odata.type") == FEATURE_TYPE)


def is_windows11_feature(entry: dict[str, Any]) -> bool:
    """True for a Windows 11 feature update (monitoring's offerFallback needs one)."""
    return is_feature(entry) and str(entry.get("version", "")).startswith("Windows 11")
