"""What each kind of command sends to Graph, built from its stored payload alone (a worker that
never saw the request can run it), and what its outcome does to the rollout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.graph.client import GraphClient
from app.graph.errors import GraphError, GraphNotFound
from app.graph.results import GraphResult
from app.graph.specs import ContentSpec, DeploymentSettingsSpec
from app.graph.wire import Deployment
from app.rollouts.models import Rollout
from app.rollouts.schemas import FeatureUpdateRef, QualityUpdateRef, RolloutSettings, UpdateRef
from app.rollouts.status import RolloutStatus
from app.rollouts.translate import deployment_settings
from app.rollouts.views import graph_state_record

CREATE = "deployment.create"
SET_STATE = "deployment.setState"
UPDATE = "deployment.update"
DELETE = "deployment.delete"

SaveAnchor = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """What the call needs to know of the rollout, read when the command was claimed."""

    deployment_id: str | None
    update_kind: str
    anchor: str | None

    @classmethod
    def of(cls, rollout: Rollout, anchor: str | None) -> Target:
        """The target of a command on `rollout` whose anchor (a create's audience) is `anchor`."""
        return cls(rollout.graph_deployment_id, rollout.update_kind, anchor)


def update_ref(record: dict[str, Any]) -> UpdateRef:
    """The update as the caller named it (stored in the payload and the rollout's settings)."""
    if record.get("kind") == "quality":
        return QualityUpdateRef.model_validate(record)
    return FeatureUpdateRef.model_validate(record)


def settings_spec(settings: dict[str, Any], update: dict[str, Any]) -> DeploymentSettingsSpec:
    """The Graph settings that carry out stored settings (API terms) for the update."""
    present = {k: v for k, v in settings.items() if v is not None}
    return deployment_settings(RolloutSettings.model_validate(present), update_ref(update))


def settings_change(payload: dict[str, Any]) -> DeploymentSettingsSpec:
    """What a settings PATCH sends: the new settings, saying explicitly what was removed that
    Graph would otherwise keep (no monitoring rules: an empty list)."""
    after = settings_spec(payload["settings"], payload["update"])
    if after.monitoring_rules is None:
        return replace(after, monitoring_rules=())
    return after


async def call(
    graph: GraphClient, kind: str, payload: dict[str, Any], target: Target, save_anchor: SaveAnchor
) -> GraphResult[Any]:
    """Send the command to Graph (with the client's retries); GraphError when it fails."""
    if kind == CREATE:
        anchor = target.anchor
        request_ids: list[str] = []
        if anchor is None:
            audience = await graph.create_audience()
            anchor, request_ids = audience.value.id, list(audience.request_ids)
            await save_anchor(anchor)
        content = ContentSpec(
            catalog_entry_id=payload["catalogEntryId"], kind=payload["update"]["kind"]
        )
        spec = settings_spec(payload["settings"], payload["update"])
        if target.anchor is not None:  # a repeat: the first attempt may have created it
            try:
                found = await graph.find_deployment_by_audience(anchor)
            except GraphError as unclear:
                unclear.outcome_unknown = True  # not knowing is not "Graph refused"
                raise
            request_ids += found.request_ids
            if found.value is not None:
                return GraphResult(found.value, request_ids)
        created = await graph.create_deployment(content, spec, anchor)
        return GraphResult(created.value, request_ids + created.request_ids)
    assert target.deployment_id is not None
    if kind == SET_STATE:
        return await graph.set_requested_state(target.deployment_id, payload["requested"])
    if kind == UPDATE:
        return await graph.update_settings(
            target.deployment_id,
            settings_change(payload),
            target.update_kind,  # type: ignore[arg-type]
        )
    if kind == DELETE:
        try:
            return await graph.delete_deployment(target.deployment_id)
        except GraphNotFound as gone:  # deleted between our read and the DELETE: done
            return GraphResult({"alreadyGone": True}, list(gone.request_ids))
    raise ValueError(f"unknown command kind {kind!r}")


def succeeded(
    kind: str, payload: dict[str, Any], rollout: Rollout, value: Any, now: datetime
) -> dict[str, Any]:
    """Apply Graph's success to the rollout; the detail of the `succeeded` audit event."""
    if kind == CREATE:
        assert isinstance(value, Deployment)
        rollout.graph_deployment_id = value.id
        rollout.move_to(RolloutStatus.ACTIVE)
        rollout.graph_state = graph_state_record(value, now)
        return {"graphDeploymentId": value.id, "graphAudienceId": rollout.graph_audience_id}
    if kind == SET_STATE:
        requested = payload["requested"]
        if isinstance(value, Deployment) and value.state is not None:
            rollout.graph_state = graph_state_record(value, now)
        else:
            rollout.graph_state = {**(rollout.graph_state or {}), "requested": requested}
        if requested == "archived":
            rollout.ended_at = rollout.ended_at or now
        state = rollout.graph_state or {}
        return {"state": {k: state.get(k) for k in ("effective", "requested", "reasons")}}
    if kind == UPDATE:
        rollout.name = payload["name"]
        rollout.settings = {"update": payload["update"], **payload["settings"]}
        if isinstance(value, Deployment) and value.state is not None:
            # A settings change can change the state (a raised threshold lifts a monitoring
            # pause): keep Graph's answer, so it is not later taken for an outside change.
            rollout.graph_state = graph_state_record(value, now)
        return {"after": {"name": rollout.name, **payload["settings"]}}
    if kind == DELETE:
        rollout.move_to(RolloutStatus.DELETED)
        rollout.deleted_at = now
        rollout.ended_at = rollout.ended_at or now
        gone = isinstance(value, dict) and bool(value.get("alreadyGone"))
        return {"graphDeploymentId": rollout.graph_deployment_id, "alreadyGone": gone}
    raise ValueError(f"unknown command kind {kind!r}")


def failed(kind: str, rollout: Rollout, error: GraphError) -> None:
    """Apply Graph's refusal to the rollout: a create Graph surely did not make has failed;
    an ambiguous one stays `creating` for reconciliation to adopt or fail."""
    if kind == CREATE and not error.outcome_unknown:
        rollout.move_to(RolloutStatus.FAILED)
