"""The product revisions of quality catalog entries (shown with `$expand=…/productRevisions`).

MADE UP: build revisions (UBR) and KB numbers are invented (KB9xxxxxx, a range no real article
uses) and derived from the release date, so they are stable; the shape follows Microsoft's
examples ([doc] concepts/windowsupdates-deploy-expedited-update.md and
windowsupdates-hotpatch-update.md, Step 1: id "10.0.19045.3803", displayName "Windows 10, version
22H2, build 19045.3803", osBuild, knowledgeBaseArticle {id, url}). `isHotpatchUpdate` is a
boolean as Microsoft's OpenAPI declares it (the hotpatch page's example quotes it as a string); it
is true for Windows 11 24H2 and later revisions of monthly B security releases, the updates the
hotpatch page describes ("Monthly B release security updates", "Windows 11 24H2 or later").
"""

from __future__ import annotations

from typing import Any

# (product, version, build, the feature update's release date)
PRODUCTS = (
    ("Windows 10", "22H2", 19045, "2022-10-18"),
    ("Windows 11", "23H2", 22631, "2023-10-31"),
    ("Windows 11", "24H2", 26100, "2024-10-01"),
    ("Windows 11", "25H2", 26200, "2025-09-30"),
)
HOTPATCH_BUILDS = frozenset({26100, 26200})
CADENCE_OFFSET = {"B": 0, "D": 40, "OOB": 60}


def product_revisions(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The revisions of the products a quality entry updates (those released before it)."""
    released = str(entry["releaseDateTime"])
    year, month = int(released[:4]), int(released[5:7])
    release = str(entry.get("shortName", "")).rsplit(" ", 1)[-1]
    serial = (year - 2020) * 12 + month
    offset = CADENCE_OFFSET.get(release, 0)
    ubr = 1000 + serial * 70 + offset
    hotpatch_release = release == "B" and entry.get("qualityUpdateClassification") == "security"
    return [
        {
            "id": f"10.0.{build}.{ubr}",
            "displayName": f"{product}, version {version}, build {build}.{ubr}",
            "releaseDateTime": released,
            "isHotpatchUpdate": hotpatch_release and build in HOTPATCH_BUILDS,
            "version": version,
            "product": product,
            "osBuild": {
                "majorVersion": 10,
                "minorVersion": 0,
                "buildNumber": build,
                "updateBuildRevision": ubr,
            },
            "knowledgeBaseArticle": _kb(f"9{serial:03d}{index}{offset:02d}"),
        }
        for index, (product, version, build, since) in enumerate(PRODUCTS)
        if since <= released[:10]
    ]


def _kb(number: str) -> dict[str, str]:
    return {"id": f"KB{number}", "url": f"https://support.microsoft.com/help/{number}"}
