"""Split device ids into calls of at most N ids, keeping order and sending each id once."""

from __future__ import annotations

from collections.abc import Iterable

from app.graph.specs import AudienceChange


def unique(ids: Iterable[str]) -> tuple[str, ...]:
    """The ids in first-seen order without repeats."""
    return tuple(dict.fromkeys(ids))


def chunk_ids(ids: Iterable[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive chunks of at most `size` distinct ids."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    distinct = unique(ids)
    return [distinct[i : i + size] for i in range(0, len(distinct), size)]


def chunk_audience_change(change: AudienceChange, size: int) -> list[AudienceChange]:
    """updateAudience calls carrying at most `size` ids in total across the four lists.

    Lists are consumed in the order add_members, remove_members, add_exclusions,
    remove_exclusions, so a chunk may mix lists; each list is de-duplicated first.
    """
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    queues = [
        unique(change.add_members),
        unique(change.remove_members),
        unique(change.add_exclusions),
        unique(change.remove_exclusions),
    ]
    chunks: list[AudienceChange] = []
    current: list[list[str]] = [[], [], [], []]
    filled = 0
    for index, queue in enumerate(queues):
        for device_id in queue:
            current[index].append(device_id)
            filled += 1
            if filled == size:
                chunks.append(AudienceChange(*(tuple(part) for part in current)))
                current = [[], [], [], []]
                filled = 0
    if filled:
        chunks.append(AudienceChange(*(tuple(part) for part in current)))
    return chunks
