"""Catalog `$filter` / `$orderby` / `$expand`: the queries of Microsoft's own pages, and 400s."""

from __future__ import annotations

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import NS, ROOT

ENTRIES = f"{ROOT}/catalog/entries"
QUALITY = f"{NS}.qualityUpdateCatalogEntry"
EXPEDITABLE = f"isof('{QUALITY}') and {QUALITY}/isExpeditable eq true"
REVISIONS = f"{QUALITY}/productRevisions"
CONTEXT = "https://graph.test/beta/$metadata#admin/windows/updates/catalog/entries"


def expeditable_newest_first(state: SimulatorState) -> list[str]:
    entries = [
        e
        for e in state.catalog.values()
        if e["@odata.type"] == f"#{QUALITY}" and e["isExpeditable"] is True
    ]
    return [e["id"] for e in sorted(entries, key=lambda e: e["releaseDateTime"], reverse=True)]


async def test_the_expedite_and_hotpatch_pages_query_verbatim(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    """[doc] concepts/windowsupdates-deploy-expedited-update.md and
    windowsupdates-hotpatch-update.md, Step 1, send exactly this request."""
    response = await client.get(
        f"{ENTRIES}?$top=3&$filter={EXPEDITABLE}&$expand={REVISIONS}&$orderby=releaseDateTime desc"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{CONTEXT}({REVISIONS}())"
    assert [e["id"] for e in body["value"]] == expeditable_newest_first(state)[:3]
    assert all(e["isExpeditable"] is True for e in body["value"])
    first = body["value"][0]
    revision = first["productRevisions"][0]
    assert revision["id"] == f"10.0.19045.{revision['osBuild']['updateBuildRevision']}"
    assert revision["displayName"].startswith("Windows 10, version 22H2, build 19045.")
    assert revision["releaseDateTime"] == first["releaseDateTime"]
    assert revision["knowledgeBaseArticle"]["id"].startswith("KB9")
    assert isinstance(revision["isHotpatchUpdate"], bool)


@pytest.mark.parametrize(
    "query",
    [
        # Windows Autopatch "Programmatic controls for expedited Windows quality updates"
        f"$filter={EXPEDITABLE}&$orderby=releaseDateTime desc&$top=2",
        # the same with Graph beta's optional $ prefix and another casing of $orderby
        f"filter={EXPEDITABLE}&$orderBy=releaseDateTime DESC&top=2",
    ],
)
async def test_expeditable_newest_first_variants(
    client: httpx.AsyncClient, state: SimulatorState, query: str
) -> None:
    body = (await client.get(f"{ENTRIES}?{query}")).json()
    assert [e["id"] for e in body["value"]] == expeditable_newest_first(state)[:2]
    assert body["@odata.context"] == CONTEXT
    assert "productRevisions" not in body["value"][0]


async def test_expand_without_filter_expands_only_quality_entries(
    client: httpx.AsyncClient,
) -> None:
    """The Autopatch page: `$expand=…/productRevisions&$orderby=releaseDateTime desc&$top=1`."""
    body = (await client.get(f"{ENTRIES}?$expand={REVISIONS}&$orderby=releaseDateTime asc")).json()
    assert [e["releaseDateTime"] for e in body["value"]] == sorted(
        e["releaseDateTime"] for e in body["value"]
    )
    for entry in body["value"]:
        assert ("productRevisions" in entry) == entry["@odata.type"].endswith(
            "qualityUpdateCatalogEntry"
        )
    newest = (
        await client.get(f"{ENTRIES}?$expand={REVISIONS}&$orderby=releaseDateTime desc&$top=1")
    ).json()
    assert newest["value"][0]["shortName"] == "2026.11 B"
    assert newest["@odata.nextLink"].count("$orderby=releaseDateTime%20desc") == 1


async def test_cast_property_alone_as_in_the_powershell_example(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    """Entries of the other type have no such property, so they do not match."""
    body = (
        await client.get(ENTRIES, params={"$filter": f"{QUALITY}/isExpeditable eq true"})
    ).json()
    assert sorted(e["id"] for e in body["value"]) == sorted(expeditable_newest_first(state))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f"{QUALITY}/isExpeditable eq false", {"2026.10 D", "2026.10 B", "2025.11 B"}),
        (
            f"isof('{QUALITY}') and {QUALITY}/qualityUpdateClassification eq 'security' and "
            f"{QUALITY}/isExpeditable eq true",
            {"2026.11 B", "2026.10 OOB"},
        ),
        (f"{QUALITY}/qualityUpdateCadence eq 'outOfBand'", {"2026.10 OOB"}),
        (f"{QUALITY}/shortName eq '2026.10 D'", {"2026.10 D"}),
    ],
)
async def test_close_variants(client: httpx.AsyncClient, flt: str, expected: set[str]) -> None:
    body = (await client.get(ENTRIES, params={"$filter": flt})).json()
    assert {e["shortName"] for e in body["value"]} == expected


async def test_feature_properties_and_a_quoted_comma(client: httpx.AsyncClient) -> None:
    feature = f"{NS}.featureUpdateCatalogEntry"
    flt = f"isof('{feature}') and {feature}/version eq 'Windows 11, version 24H2'"
    body = (await client.get(ENTRIES, params={"$filter": flt})).json()
    assert [e["buildNumber"] for e in body["value"]] == ["26100"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"$filter": "isExpeditable eq true"}, "property named 'isExpeditable'"),
        ({"$filter": f"{EXPEDITABLE} or isof('{QUALITY}')"}, "is not supported"),
        ({"$filter": f"not {QUALITY}/isExpeditable eq true"}, "is not supported"),
        ({"$filter": f"{QUALITY}/isExpeditable eq 'yes'"}, "cannot be compared"),
        ({"$filter": f"{QUALITY}/isExpeditable ne true"}, "is not supported"),
        ({"$filter": f"isof('{NS}.deployment')"}, f"{NS}.deployment"),
        ({"$orderby": "version desc"}, "$orderby"),
        ({"$orderby": "releaseDateTime desc,displayName"}, "$orderby"),
        ({"$expand": "productRevisions"}, "property named 'productRevisions'"),
        ({"$select": "id"}, "'$select'"),
        ({"$search": '"2026"'}, "'$search'"),
        ({"$count": "true"}, "'$count'"),
        ({"$skip": "2"}, "'$skip'"),
    ],
)
async def test_what_is_not_supported_is_a_graph_400_naming_it(
    client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    response = await client.get(ENTRIES, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert named in error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]


async def test_an_option_given_twice_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ENTRIES}?$top=1&top=2")
    assert response.status_code == 400
    assert "more than once" in response.json()["error"]["message"]


async def test_one_entry_with_expand(client: httpx.AsyncClient, state: SimulatorState) -> None:
    entry_id = expeditable_newest_first(state)[0]
    body = (await client.get(f"{ENTRIES}/{entry_id}", params={"$expand": REVISIONS})).json()
    assert body["@odata.context"] == f"{CONTEXT}({REVISIONS}())/$entity"
    assert len(body["productRevisions"]) == 4
