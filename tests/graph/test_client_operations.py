"""Every GraphClient operation against the in-process simulator: values, ids, headers, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.graph.client import GraphClient
from app.graph.errors import GraphNotFound
from app.graph.specs import (
    AudienceChange,
    ContentSpec,
    DeploymentSettingsSpec,
    MonitoringRule,
    RateDrivenRollout,
)
from app.graph.wire import AssetState, AzureADDevice
from app.request_context import request_id_var
from app.simulator import SimulatorState
from app.simulator.catalog import QUALITY_2026_11_B, WIN11_24H2
from tests.graph.conftest import MakeClient
from tests.graph.transports import SpyTransport

FEATURE = ContentSpec(WIN11_24H2, "feature")


def device_ids(n: int, prefix: str = "0") -> list[str]:
    """Distinct GUID-shaped device ids the simulator registers without errors."""
    return [f"{prefix}{i:07x}-0000-4000-8000-{i:012x}" for i in range(n)]


async def new_deployment(graph: GraphClient, settings: DeploymentSettingsSpec | None = None) -> str:
    audience = await graph.create_audience()
    created = await graph.create_deployment(FEATURE, settings, audience.value.id)
    return created.value.id


async def test_catalog_lists_feature_and_quality_entries(graph: GraphClient) -> None:
    features = await graph.list_catalog_entries("feature")
    qualities = await graph.list_catalog_entries("quality")
    assert WIN11_24H2 in {e.id for e in features.value}
    assert QUALITY_2026_11_B in {e.id for e in qualities.value}
    assert all(e.version for e in features.value)
    assert all(e.quality_update_classification for e in qualities.value)
    assert len(features.request_ids) == 1 and len(qualities.request_ids) == 1


async def test_create_read_pause_resume_settings_archive_delete(
    graph: GraphClient, sim: SimulatorState
) -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    settings = DeploymentSettingsSpec(
        start_date_time=start,
        gradual_rollout=RateDrivenRollout(50),
        monitoring_rules=(MonitoringRule("rollback", 10, "alertError"),),
    )
    audience = await graph.create_audience()
    created = await graph.create_deployment(FEATURE, settings, audience.value.id)
    deployment = created.value
    assert deployment.audience is None or deployment.audience.id == audience.value.id
    assert deployment.state is not None and deployment.state.effective_value == "scheduled"
    assert created.request_ids == [sim.find("POST", "/deployments")[-1].request_id]
    assert sim.deployments[deployment.id].audience_id == audience.value.id

    paused = await graph.set_requested_state(deployment.id, "paused")
    assert paused.value is not None and paused.value.state is not None
    assert paused.value.state.requested_value == "paused"
    read = await graph.get_deployment(deployment.id)
    assert read.value.state is not None and read.value.state.effective_value == "paused"
    await graph.set_requested_state(deployment.id, "none")
    assert (await graph.get_deployment(deployment.id)).value.state.effective_value == "scheduled"  # type: ignore[union-attr]

    await graph.update_settings(deployment.id, DeploymentSettingsSpec(offer_as_optional=True))
    settings_now = (await graph.get_deployment(deployment.id)).value.settings or {}
    assert settings_now["userExperience"]["offerAsOptional"] is True

    await graph.set_requested_state(deployment.id, "archived")
    deleted = await graph.delete_deployment(deployment.id)
    assert len(deleted.request_ids) == 1
    with pytest.raises(GraphNotFound) as missing:
        await graph.get_deployment(deployment.id)
    assert missing.value.code == "NotFound"
    assert missing.value.request_id == sim.calls[-1].request_id


async def test_find_deployment_by_audience(graph: GraphClient) -> None:
    first = await new_deployment(graph)
    audience = await graph.create_audience()
    second = await graph.create_deployment(FEATURE, None, audience.value.id)
    found = await graph.find_deployment_by_audience(audience.value.id)
    assert found.value is not None and found.value.id == second.value.id != first
    unused = await graph.create_audience()
    assert (await graph.find_deployment_by_audience(unused.value.id)).value is None


async def test_adoption_reads_each_audience_when_graph_does_not_expand_it(
    graph: GraphClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = await graph.create_audience()
    created = await graph.create_deployment(FEATURE, None, mine.value.id)
    await new_deployment(graph)  # someone else's, listed too
    unexpanded = await graph.list_deployments(expand_audience=False)

    async def ignores_expand(expand_audience: bool = False) -> Any:
        return unexpanded  # Graph answered without the audiences

    monkeypatch.setattr(graph, "list_deployments", ignores_expand)

    found = await graph.find_deployment_by_audience(mine.value.id)

    assert found.value is not None and found.value.id == created.value.id
    assert len(found.request_ids) >= 2  # the list, then the audiences read one by one


async def test_audience_members_exclusions_and_empty_audience(graph: GraphClient) -> None:
    deployment_id = await new_deployment(graph)
    empty = await graph.list_audience_members(deployment_id)  # Graph answers 404: means empty
    assert empty.value == []
    assert len(empty.request_ids) == 2  # the 404 and the GET of the deployment
    ids = device_ids(5)
    change = AudienceChange(add_members=tuple(ids), add_exclusions=tuple(ids[:1]))
    assert len((await graph.update_audience_chunk(deployment_id, change)).request_ids) == 1
    members = await graph.list_audience_members(deployment_id)
    exclusions = await graph.list_audience_exclusions(deployment_id)
    assert [m.id for m in members.value] == ids
    assert all(isinstance(m, AzureADDevice) for m in members.value)
    assert [e.id for e in exclusions.value] == ids[:1]
    removal = AudienceChange(remove_members=tuple(ids[3:]), remove_exclusions=tuple(ids[:1]))
    await graph.update_audience_chunk(deployment_id, removal)
    assert [m.id for m in (await graph.list_audience_members(deployment_id)).value] == ids[:3]


async def test_audience_states_keep_enrollment_and_errors_only(graph: GraphClient) -> None:
    deployment_id = await new_deployment(graph)
    assert (await graph.audience_states(deployment_id, "members")).value == {}  # 404: empty
    good, broken = device_ids(1)[0], "ffff" + device_ids(1)[0][4:]
    await graph.enroll_assets_chunk("feature", [good, broken])
    await graph.update_audience_chunk(deployment_id, AudienceChange(add_members=(good, broken)))

    states = (await graph.audience_states(deployment_id, "members")).value

    assert states[good] == AssetState(("enrolled", "notEnrolled", "notEnrolled"), ())
    assert states[broken].enrollment_state("feature") == "enrolling"
    assert states[broken].errors == ("invalidAzureADJoin",)
    known = (await graph.updatable_asset_states()).value
    assert set(known) >= {good, broken}


async def test_members_of_an_unknown_deployment_is_not_found(graph: GraphClient) -> None:
    with pytest.raises(GraphNotFound):
        await graph.list_audience_members("00000000-0000-4000-8000-000000000000")


async def test_enroll_read_unenroll_devices(graph: GraphClient, sim: SimulatorState) -> None:
    ids = device_ids(3)
    enrolled = await graph.enroll_assets_chunk("feature", ids)
    assert len(enrolled.request_ids) == 1
    assert [a["id"] for a in sim.find("POST", "enrollAssets")[-1].body["assets"]] == ids
    device = (await graph.get_updatable_asset(ids[0])).value
    assert isinstance(device, AzureADDevice)
    assert device.enrollment_state("feature") in ("enrolled", "enrolling")
    await graph.unenroll_assets_chunk("feature", ids)
    device = (await graph.get_updatable_asset(ids[0])).value
    assert isinstance(device, AzureADDevice)
    assert device.enrollment_state("feature") in ("notEnrolled", "unenrolling")


async def test_unknown_device_reads_as_none_and_bad_ids_show_as_errors(graph: GraphClient) -> None:
    missing = await graph.get_updatable_asset("12345678-0000-4000-8000-000000000000")
    assert missing.value is None and len(missing.request_ids) == 1
    await graph.enroll_assets_chunk("quality", ["not-a-guid"])
    device = (await graph.get_updatable_asset("not-a-guid")).value
    assert isinstance(device, AzureADDevice)
    assert device.error_reasons == ["invalidAzureADDeviceId"]


async def test_every_call_sends_client_request_id_and_prefer(
    make_graph: MakeClient, sim: SimulatorState
) -> None:
    spies: list[SpyTransport] = []

    def spy(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        spies.append(SpyTransport(inner))
        return spies[-1]

    graph = make_graph(transport_wrapper=spy)
    token = request_id_var.set("req-abc-123")
    try:
        deployment_id = await new_deployment(graph)
        await graph.update_audience_chunk(deployment_id, AudienceChange(tuple(device_ids(2))))
        await graph.list_audience_members(deployment_id)
        await graph.set_requested_state(deployment_id, "paused")
        await graph.enroll_assets_chunk("feature", device_ids(2))
        await graph.delete_deployment(deployment_id)
    finally:
        request_id_var.reset(token)
    graph_requests = [r for r in spies[0].requests if r.url.path.startswith("/beta/")]
    assert len(graph_requests) >= 7
    for request in graph_requests:
        assert request.headers["client-request-id"] == "req-abc-123"
        assert request.headers["prefer"] == "include-unknown-enum-members"
        assert request.headers["authorization"].startswith("Bearer ")
        if request.content:
            assert request.headers["content-type"] == "application/json"
    assert {c.client_request_id for c in sim.find() if c.is_graph} == {"req-abc-123"}


async def test_paging_follows_next_link_to_the_end(graph: GraphClient, sim: SimulatorState) -> None:
    sim.page_size = 3
    created = [await new_deployment(graph) for _ in range(7)]
    sim.clear_calls()
    listed = await graph.list_deployments()
    assert [d.id for d in listed.value] == created
    pages = sim.find("GET", "/deployments")
    assert len(pages) == 3
    assert "$skiptoken" not in pages[0].query and "$skiptoken" in pages[2].query
    assert listed.request_ids == [c.request_id for c in pages]
    expanded = await graph.list_deployments(expand_audience=True)
    assert all(d.audience is not None and d.audience.id for d in expanded.value)
    assert all("expand" in c.query for c in sim.find("GET", "/deployments")[3:])


async def test_paging_of_audience_members(graph: GraphClient, sim: SimulatorState) -> None:
    deployment_id = await new_deployment(graph)
    ids = device_ids(450)
    for start in range(0, len(ids), 200):
        chunk = AudienceChange(tuple(ids[start : start + 200]))
        await graph.update_audience_chunk(deployment_id, chunk)
    sim.clear_calls()
    members = await graph.list_audience_members(deployment_id)
    assert [m.id for m in members.value] == ids
    assert sim.count("GET", "/members") == 5  # 100 per page


async def test_per_chunk_methods_refuse_oversized_chunks(graph: GraphClient) -> None:
    with pytest.raises(ValueError):
        await graph.enroll_assets_chunk("feature", device_ids(201))
    with pytest.raises(ValueError):
        await graph.update_audience_chunk("d", AudienceChange(tuple(device_ids(201))))


async def test_empty_chunks_send_nothing(graph: GraphClient, sim: SimulatorState) -> None:
    assert (await graph.update_audience_chunk("d", AudienceChange())).request_ids == []
    assert (await graph.unenroll_assets_chunk("feature", [])).request_ids == []
    assert sim.find(path_contains="/beta/") == []
