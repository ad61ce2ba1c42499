"""Reading back from Graph what an operation's accepted changes did, item by item.

Graph answers 202 to updateAudience, enrollAssets and unenrollAssets and applies them later, with no
operation to poll (graph.md, "202 means later"). An operation therefore ends only once Graph shows
the result, read in bulk:

- members and exclusions: `GET /deployments/{id}/audience/members` and `/exclusions`, paged. The
  members come back as azureADDevice objects with their `enrollment` and registration `errors`, so
  one listing confirms membership, enrollment and registration of every added device at once (a
  member listed without enrollment is read alone with `GET /updatableAssets/{id}`).
- releases: each device's enrollment per category, read one by one
  (`GET /updatableAssets/{id}`) when the release has at most ONE_BY_ONE_MAX devices still to
  confirm, else from `GET /updatableAssets`, paged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.graph.client import GraphClient, PageListener
from app.graph.wire import AssetState

ENROLLED = frozenset({"enrolled", "enrolledWithPolicy"})
ONE_BY_ONE_MAX = 100
"""A release's devices up to this many are read one by one, up to GRAPH_CONCURRENCY at once.
Listing every updatable asset instead costs a page per 100 or so assets of the whole tenant,
read in sequence, however few devices the release has: a thousand pages per reading for a
tenant of 100,000 devices, and the reading is repeated until Graph shows every release."""
LEAVING = frozenset({"unenrolling"})


@dataclass(frozen=True)
class Verdict:
    """What Graph shows for one item: `None` status means "not yet"."""

    status: str | None
    code: str | None = None
    message: str | None = None


PENDING = Verdict(None)
CONFIRMED = Verdict("succeeded")


@dataclass
class GraphView:
    """What Graph showed at one reading; `None` for what was not read."""

    members: dict[str, AssetState] | None = None
    exclusions: set[str] | None = None
    assets: dict[str, AssetState] | None = None
    request_ids: list[str] = field(default_factory=list)


async def read_audience(
    graph: GraphClient,
    deployment_id: str,
    *,
    members: bool,
    exclusions: bool,
    on_members: PageListener | None = None,
) -> GraphView:
    """The deployment's members (with enrollment and errors) and/or exclusions, all pages;
    `on_members` sees each page of members as it is read."""
    view = GraphView()
    if members:
        listed = await graph.audience_states(deployment_id, "members", on_members)
        view.members = listed.value
        view.request_ids += listed.request_ids
    if exclusions:
        excluded = await graph.audience_states(deployment_id, "exclusions")
        view.exclusions = set(excluded.value)
        view.request_ids += excluded.request_ids
    return view


async def fill_missing_enrollment(
    graph: GraphClient, view: GraphView, device_ids: list[str], category: str
) -> None:
    """Read one by one the added members whose listing carried no enrollment for `category`.

    Microsoft's list-members page does not promise that members come with their enrollment; a
    listing without it costs one `GET /updatableAssets/{id}` per such device.
    """
    if view.members is None or category == "none":
        return
    for device_id in device_ids:
        listed = view.members.get(device_id)
        if listed is None or _enrollment(listed, category) is not None:
            continue
        read = await graph.get_updatable_asset(device_id)
        view.request_ids += read.request_ids
        if read.value is not None:
            view.members[device_id] = AssetState.of(read.value)


async def read_assets(graph: GraphClient, device_ids: Sequence[str]) -> GraphView:
    """The enrollment per category of the devices (as Graph knows them: a device Graph does
    not know is absent), read one by one or, for more than ONE_BY_ONE_MAX, from the listing of
    every updatable asset."""
    if len(device_ids) > ONE_BY_ONE_MAX:
        listed = await graph.updatable_asset_states()
        return GraphView(assets=listed.value, request_ids=listed.request_ids)
    reads = [asyncio.ensure_future(graph.get_updatable_asset(d)) for d in device_ids]
    try:
        found = await asyncio.gather(*reads)
    except BaseException:
        for read in reads:
            read.cancel()  # one failed: the reading failed, the others are not waited for
        raise
    return GraphView(
        assets={
            device_id: AssetState.of(read.value)
            for device_id, read in zip(device_ids, found, strict=True)
            if read.value is not None
        },
        request_ids=[request_id for read in found for request_id in read.request_ids],
    )


def _registration_error(device: AssetState) -> Verdict | None:
    if device.errors:
        reason = device.errors[0]
        return Verdict(
            "failed",
            reason,
            f"Graph reports the registration error {reason}: the device is in the audience"
            " but will not be offered the update until it is fixed.",
        )
    return None


def _enrollment(device: AssetState, category: str) -> str | None:
    return device.enrollment_state(category)


def verdict(change: str, device_id: str, view: GraphView, category: str) -> Verdict:
    """The item's outcome as far as this reading of Graph shows it."""
    if change == "addMember":
        device = (view.members or {}).get(device_id)
        if device is None:
            return PENDING
        failed = _registration_error(device)
        if failed is not None:
            return failed
        if category == "none" or _enrollment(device, category) in ENROLLED:
            return CONFIRMED
        return PENDING
    if change == "removeMember":
        return CONFIRMED if device_id not in (view.members or {}) else PENDING
    if change == "addExclusion":
        return CONFIRMED if device_id in (view.exclusions or set()) else PENDING
    if change == "removeExclusion":
        return CONFIRMED if device_id not in (view.exclusions or set()) else PENDING
    if change == "unenroll":
        asset = (view.assets or {}).get(device_id)
        state = _enrollment(asset, category) if asset is not None else None
        return PENDING if state in ENROLLED | LEAVING | {"enrolling"} else CONFIRMED
    raise ValueError(f"unknown change {change!r}")


def final_verdict(change: str, device_id: str, view: GraphView | None, seconds: float) -> Verdict:
    """The outcome of an item Graph had not confirmed when the wait ran out.

    A device Graph shows in the audience but still enrolling (or unenrolling) succeeded with a
    warning: Graph accepted it and will finish. Anything Graph does not show at all failed: the
    service cannot tell the caller it happened.
    """
    waited = f"{seconds:.1f} s"
    if change == "addMember" and view is not None and device_id in (view.members or {}):
        return Verdict(
            "succeeded",
            "enrollmentPending",
            f"the device is in the audience but Graph still reports it enrolling after {waited};"
            " check it with GET /v1/devices/{deviceId}",
        )
    if change == "unenroll" and view is not None:
        return Verdict(
            "succeeded",
            "unenrollmentPending",
            f"Graph accepted the release but still reports the device enrolled after {waited}",
        )
    return Verdict(
        "failed",
        "notConfirmed",
        f"Graph accepted the change but did not show it within {waited}; it may still apply:"
        " reconcile the rollout or retry",
    )
