"""The catalog routes: Graph's entries in the simple shape of api.md, filtered, paged, cached."""

from __future__ import annotations

import asyncio

import httpx

from app.main import create_app
from app.simulator.catalog import QUALITY_2026_10_B, QUALITY_2026_11_B, WIN11_24H2
from app.simulator.state import SimulatorState
from tests.conftest import make_settings

ENTRIES = "/catalog/entries"


async def test_feature_updates_in_the_shape_of_the_contract(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    response = await client.get("/v1/catalog/feature-updates")
    assert response.status_code == 200
    items = {item["catalogEntryId"]: item for item in response.json()["items"]}
    graph_entry = simulator.catalog[WIN11_24H2]
    assert items[WIN11_24H2] == {
        "catalogEntryId": WIN11_24H2,
        "version": "Windows 11, version 24H2",
        "displayName": graph_entry["displayName"],
        "buildNumber": "26100",
        "releasedAt": graph_entry["releaseDateTime"],
        "deployableUntil": graph_entry["deployableUntilDateTime"],
        "deployable": True,
    }
    assert items["d9049ddb-0ca8-4bc1-bd3c-41a456ef300f"]["deployable"] is False  # 22H2, expired
    released = [item["releasedAt"] for item in response.json()["items"]]
    assert released == sorted(released, reverse=True)
    assert response.json()["nextCursor"] is None


async def test_deployable_filter_keeps_only_what_can_still_be_deployed(
    client: httpx.AsyncClient,
) -> None:
    every = (await client.get("/v1/catalog/feature-updates")).json()["items"]
    yes = (await client.get("/v1/catalog/feature-updates?deployable=true")).json()["items"]
    no = (await client.get("/v1/catalog/feature-updates?deployable=false")).json()["items"]
    assert {i["version"] for i in yes} == {
        "Windows 11, version 24H2",
        "Windows 11, version 25H2",
    }
    assert len(yes) + len(no) == len(every)
    assert not {i["catalogEntryId"] for i in yes} & {i["catalogEntryId"] for i in no}


async def test_quality_updates_with_the_expeditable_filter(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    response = await client.get("/v1/catalog/quality-updates?expeditable=true")
    items = {item["catalogEntryId"]: item for item in response.json()["items"]}
    assert QUALITY_2026_11_B in items and QUALITY_2026_10_B not in items
    graph_entry = simulator.catalog[QUALITY_2026_11_B]
    item = items[QUALITY_2026_11_B]
    assert item["isExpeditable"] is True
    assert item["shortName"] == graph_entry["shortName"]
    assert item["classification"] == graph_entry["qualityUpdateClassification"]
    assert item["cadence"] == graph_entry["qualityUpdateCadence"]
    assert item["maxSeverity"] == graph_entry["cveSeverityInformation"]["maxSeverity"]


async def test_paging_visits_every_entry_once(client: httpx.AsyncClient) -> None:
    every = (await client.get("/v1/catalog/feature-updates")).json()["items"]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/catalog/feature-updates", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [item["catalogEntryId"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [item["catalogEntryId"] for item in every]
    assert pages == (len(every) + 1) // 2


async def test_bad_paging_parameters_are_problems(client: httpx.AsyncClient) -> None:
    cursor = await client.get("/v1/catalog/feature-updates?cursor=not-ours")
    assert cursor.status_code == 400
    assert cursor.json()["type"] == "urn:problem:invalid-cursor"
    limit = await client.get("/v1/catalog/feature-updates?limit=501")
    assert limit.status_code == 422
    assert limit.json()["errors"][0]["field"] == "limit"


async def test_a_burst_of_callers_costs_one_graph_call(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    responses = await asyncio.gather(
        *(client.get("/v1/catalog/feature-updates") for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert simulator.count("GET", ENTRIES) == 1


async def test_with_no_cache_time_every_call_asks_graph(clean_database: str) -> None:
    simulator = SimulatorState(synchronous=True)
    application = create_app(
        make_settings(clean_database, catalog_cache_seconds=0), simulator_state=simulator
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await http.get("/v1/catalog/feature-updates")
            await http.get("/v1/catalog/feature-updates")
    assert simulator.count("GET", ENTRIES) == 2


async def test_graph_unavailable_is_a_503_problem_naming_graph(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    simulator.faults.inject(503, count=20, path_contains=ENTRIES, retry_after=0)
    response = await client.get("/v1/catalog/quality-updates")
    assert response.status_code == 503
    problem = response.json()
    assert problem["type"] == "urn:problem:graph-unavailable"
    assert problem["graphError"]
    assert problem["graphRequestId"] in {c.request_id for c in simulator.find("GET", ENTRIES)}
