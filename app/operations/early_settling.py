"""Settling added members while Graph's listing of the audience is still being read.

A page that lists a device the operation added is all it takes to settle that device's item
(confirmed, or failed with a registration error; still enrolling waits for the full reading).
Settling them in batches as the pages come lets the database's writes overlap the reading of
the next pages, instead of all of them waiting for the last page: at 10,000 devices, about
100 pages read one after another, then about a quarter of a second of writes.

Everything else waits for the whole reading, as before: removals and exclusions (only a
complete listing shows a device absent), devices listed without their enrollment, and devices
not listed at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from app.graph.client import PageListener
from app.graph.wire import AssetState
from app.operations.confirmation import GraphView
from app.operations.item_store import Item

EARLY_BATCH = 1000
"""Listed devices gathered before a batch is settled; an operation adding fewer devices is
settled after the whole reading, as one batch."""

Read = Callable[[PageListener | None], Awaitable[GraphView | None]]
SettleShown = Callable[[list[Item], GraphView], Awaitable[list[Item]]]
"""Settles items from a partial view and commits; returns those still waiting."""


async def read_settling(
    read: Read, items: Sequence[Item], settle_shown: SettleShown, *, batch: int = EARLY_BATCH
) -> tuple[GraphView | None, list[Item]]:
    """Run `read`, settling with `settle_shown`, while it runs, the added members its pages
    list, `batch` at a time (one batch at a time). Returns the reading and the items it left
    to settle from the whole of it."""
    adds = {item.device_id: item for item in items if item.change == "addMember"}
    if len(adds) < batch:
        return await read(None), list(items)
    listed: dict[str, AssetState] = {}
    ready: list[Item] = []
    enough = asyncio.Event()

    def on_members(page: dict[str, AssetState]) -> None:
        for device_id, state in page.items():
            item = adds.pop(device_id, None)
            if item is not None:
                listed[device_id] = state
                ready.append(item)
        if len(ready) >= batch:
            enough.set()

    settled: set[int] = set()
    reading = asyncio.ensure_future(read(on_members))
    try:
        while True:
            waiting = asyncio.ensure_future(enough.wait())
            await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if not enough.is_set():  # the reading ended: the rest is settled from all of it
                break
            enough.clear()
            taken, ready[:] = list(ready), []
            shown = GraphView(
                members={item.device_id: listed.pop(item.device_id) for item in taken}
            )
            still = {item.seq for item in await settle_shown(taken, shown)}
            settled.update(item.seq for item in taken if item.seq not in still)
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
    return reading.result(), [item for item in items if item.seq not in settled]
