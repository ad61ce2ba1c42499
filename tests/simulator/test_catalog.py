"""The catalog: seed contents, isof filters, shapes of feature and quality entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from app.simulator import SimulatorState, catalog
from app.simulator.timefmt import parse_datetime
from tests.simulator.support import NS, ROOT

ENTRIES = f"{ROOT}/catalog/entries"
FEATURE_FILTER = f"isof('{NS}.featureUpdateCatalogEntry')"
QUALITY_FILTER = f"isof('{NS}.qualityUpdateCatalogEntry')"


async def test_feature_filter_returns_microsofts_documented_entries_and_newer_builds(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ENTRIES, params={"$filter": FEATURE_FILTER})
    assert response.status_code == 200
    entries = {e["id"]: e for e in response.json()["value"]}
    assert all(e["@odata.type"] == f"#{NS}.featureUpdateCatalogEntry" for e in entries.values())
    assert entries[catalog.WIN11_22H2] == {
        "@odata.type": f"#{NS}.featureUpdateCatalogEntry",
        "id": "d9049ddb-0ca8-4bc1-bd3c-41a456ef300f",
        "displayName": "Windows 11, version 22H2",
        "deployableUntilDateTime": "2025-10-14T00:00:00Z",
        "releaseDateTime": "2022-09-20T00:00:00Z",
        "version": "Windows 11, version 22H2",
        "buildNumber": "22621",
    }
    expected = {
        "7f4cee4c-9aa5-4e61-a4ca-c23a1bdba6f7": ("22000", "2021-10-04", "2024-10-08"),
        "f341705b-0b15-4ce3-aaf2-6a1681d78606": ("19045", "2022-10-18", "2025-10-14"),
        "53707a30-7816-448e-ab54-8cfedc48bfbc": ("19044", "2021-11-16", "2024-06-11"),
        catalog.WIN11_23H2: ("22631", "2023-10-31", "2026-11-10"),
        catalog.WIN11_24H2: ("26100", "2024-10-01", "2027-10-12"),
        catalog.WIN11_25H2: ("26200", "2025-09-30", "2028-10-10"),
    }
    for entry_id, (build, released, until) in expected.items():
        e = entries[entry_id]
        assert (e["buildNumber"], e["releaseDateTime"][:10], e["deployableUntilDateTime"][:10]) == (
            build,
            released,
            until,
        )
    assert len(entries) == 7


async def test_quality_filter_returns_quality_entries_with_all_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ENTRIES, params={"$filter": QUALITY_FILTER})
    entries = response.json()["value"]
    assert len(entries) == 5
    for e in entries:
        assert e["@odata.type"] == f"#{NS}.qualityUpdateCatalogEntry"
        assert re.fullmatch(r"[0-9a-f]{64}", e["id"])
        assert re.fullmatch(r"\d{4}\.\d{2} (B|D|OOB)", e["shortName"])
        assert e["qualityUpdateClassification"] in {"security", "nonSecurity"}
        assert e["qualityUpdateCadence"] in {"monthly", "outOfBand"}
        assert isinstance(e["isExpeditable"], bool)
        assert e["catalogName"]
    by_short = {e["shortName"]: e for e in entries}
    assert by_short["2026.11 B"]["cveSeverityInformation"]["maxSeverity"] == "critical"
    assert by_short["2026.11 B"]["cveSeverityInformation"]["exploitedCves"][0]["number"].startswith(
        "CVE-"
    )
    assert by_short["2026.10 OOB"]["qualityUpdateCadence"] == "outOfBand"
    assert {e["isExpeditable"] for e in entries} == {True, False}


async def test_quality_entries_look_like_microsofts_examples(client: httpx.AsyncClient) -> None:
    """[doc] The expedite and hotpatch pages (concepts/windowsupdates-deploy-expedited-update.md,
    windowsupdates-hotpatch-update.md) list quality entries with `deployableUntilDateTime: null`
    and names like "11/30/2023 - 2023.11 D Update for Windows 10 and later"."""
    response = await client.get(ENTRIES, params={"$filter": QUALITY_FILTER})
    by_short = {e["shortName"]: e for e in response.json()["value"]}
    assert {e["deployableUntilDateTime"] for e in by_short.values()} == {None}
    assert by_short["2026.11 B"]["displayName"] == (
        "11/10/2026 - 2026.11 B SecurityUpdate for Windows 10 and later"
    )
    assert (
        by_short["2026.11 B"]["catalogName"] == "2026-11 Cumulative Update for Windows 10 and later"
    )
    assert by_short["2026.10 D"]["displayName"] == (
        "10/27/2026 - 2026.10 D Update for Windows 10 and later"
    )
    assert by_short["2026.10 D"]["catalogName"] == (
        "2026-10 Cumulative Update Preview for Windows 10 and later"
    )


async def test_no_filter_returns_everything(client: httpx.AsyncClient) -> None:
    response = await client.get(ENTRIES)
    assert len(response.json()["value"]) == 12
    one = await client.get(f"{ENTRIES}/{catalog.WIN11_24H2}")
    assert one.json()["buildNumber"] == "26100"
    assert (await client.get(f"{ENTRIES}/nope")).status_code == 404


@pytest.mark.parametrize(
    "bad", ["isof('microsoft.graph.windowsUpdates.deployment')", "version eq '24H2'"]
)
async def test_unsupported_filters_are_400(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get(ENTRIES, params={"$filter": bad})
    assert response.status_code == 400


def test_some_entries_are_deployable_at_the_default_now() -> None:
    now = SimulatorState().now()
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5

    def deployable(kind: str) -> list[str]:
        """Released entries whose deployableUntilDateTime is unset (null) or in the future."""
        return [
            e["id"]
            for e in catalog.seed_catalog().values()
            if e["@odata.type"].endswith(kind)
            and (
                e["deployableUntilDateTime"] is None
                or (parse_datetime(e["deployableUntilDateTime"]) or now) > now
            )
            and (released := parse_datetime(e["releaseDateTime"])) is not None
            and released <= now
        ]

    assert catalog.WIN11_25H2 in deployable("featureUpdateCatalogEntry")
    assert len(deployable("qualityUpdateCatalogEntry")) >= 2
