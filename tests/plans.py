"""Reading PostgreSQL's plans in tests: what a statement scanned, from EXPLAIN (FORMAT JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan that reads a table or an index."""
    if "Scan" in plan["Node Type"]:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)
