"""Chunking keeps order, sends each id once, never exceeds the per-call cap."""

from __future__ import annotations

from app.graph.chunking import chunk_audience_change, chunk_ids
from app.graph.specs import AudienceChange


def test_1001_ids_make_six_chunks_in_order() -> None:
    ids = [f"dev-{i:04d}" for i in range(1001)]
    chunks = chunk_ids(ids, 200)
    assert [len(c) for c in chunks] == [200, 200, 200, 200, 200, 1]
    assert [i for c in chunks for i in c] == ids


def test_duplicates_are_sent_once() -> None:
    assert chunk_ids(["a", "b", "a", "c", "b"], 2) == [("a", "b"), ("c",)]
    assert chunk_ids([], 200) == []


def test_audience_chunks_count_ids_across_the_four_lists() -> None:
    change = AudienceChange(
        add_members=tuple(f"m{i}" for i in range(5)),
        remove_members=("r0", "r1"),
        add_exclusions=("x0",),
        remove_exclusions=tuple(f"u{i}" for i in range(4)),
    )
    chunks = chunk_audience_change(change, 4)
    assert [c.size for c in chunks] == [4, 4, 4]
    assert chunks[0] == AudienceChange(add_members=("m0", "m1", "m2", "m3"))
    assert chunks[1] == AudienceChange(("m4",), ("r0", "r1"), ("x0",), ())
    assert chunks[2] == AudienceChange(remove_exclusions=("u0", "u1", "u2", "u3"))
    assert [i for c in chunks for i in c.ids] == list(change.ids)
