"""An audience's ids page from a list built once per change: every change is seen by the next
page, and an unchanged audience is not copied again for each page."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from app.simulator import SimulatorState
from app.simulator.models import OrderedIds
from tests.simulator.support import ROOT, create_deployment, devices, guid


def three() -> OrderedIds:
    ids = OrderedIds()
    for n in (1, 2, 3):
        ids[guid(n)] = None
    return ids


def test_the_order_is_built_once_while_nothing_changes() -> None:
    ids = three()
    first = ids.in_order()
    assert first == [guid(1), guid(2), guid(3)]
    assert ids.in_order() is first
    ids[guid(2)] = None  # already there: its place does not move
    assert ids.in_order() is first


def _pop(ids: OrderedIds) -> None:
    ids.pop(guid(2))


def _pop_missing(ids: OrderedIds) -> None:
    ids.pop(guid(9), None)


def _del(ids: OrderedIds) -> None:
    del ids[guid(2)]


def _add(ids: OrderedIds) -> None:
    ids[guid(4)] = None


def _popitem(ids: OrderedIds) -> None:
    ids.popitem()


def _clear(ids: OrderedIds) -> None:
    ids.clear()


def _update(ids: OrderedIds) -> None:
    ids.update({guid(5): None})


def _setdefault(ids: OrderedIds) -> None:
    ids.setdefault(guid(6))


def _ior(ids: OrderedIds) -> None:
    ids |= {guid(7): None}


@pytest.mark.parametrize(
    "change", [_pop, _pop_missing, _del, _add, _popitem, _clear, _update, _setdefault, _ior]
)
def test_every_change_is_in_the_next_order(change: Callable[[OrderedIds], None]) -> None:
    ids = three()
    ids.in_order()
    change(ids)
    assert ids.in_order() == list(ids)


async def test_a_change_between_two_pages_shows_on_the_next_page(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    base = f"{ROOT}/deployments/{dep['id']}/audience"
    state.page_size = 2
    added = await client.post(
        f"{base}/updateAudience", json={"addMembers": devices(*(guid(n) for n in range(1, 6)))}
    )
    assert added.status_code == 202, added.text
    state.flush()
    first = (await client.get(f"{base}/members")).json()
    assert [d["id"] for d in first["value"]] == [guid(1), guid(2)]

    removed = await client.post(
        f"{base}/updateAudience", json={"removeMembers": devices(guid(1), guid(3))}
    )
    assert removed.status_code == 202, removed.text
    state.flush()
    second = (await client.get(first["@odata.nextLink"])).json()
    # Offsets are positions in the audience as it is now: [2, 4, 5] from the third on.
    assert [d["id"] for d in second["value"]] == [guid(5)]
    assert "@odata.nextLink" not in second
