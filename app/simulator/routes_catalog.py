"""GET /catalog/entries (with isof filters) and GET /catalog/entries/{id}."""

from __future__ import annotations

import re

from app.simulator.call import GraphCall, Reply, Route, route
from app.simulator.errors import bad_request, not_found
from app.simulator.paging import page

ISOF_RE = re.compile(r"^\s*isof\(\s*'(?:#)?microsoft\.graph\.windowsUpdates\.(\w+)'\s*\)\s*$")
FILTERABLE = {"featureUpdateCatalogEntry", "qualityUpdateCatalogEntry"}


def list_entries(call: GraphCall) -> Reply:
    """All entries, or those of one derived type with $filter=isof('…')."""
    entries = list(call.state.catalog.values())
    raw = call.query.get("$filter")
    if raw is not None:
        match = ISOF_RE.match(raw)
        if not match or match.group(1) not in FILTERABLE:
            raise bad_request(f"Invalid filter clause: '{raw}' is not supported.", "$filter")
        wanted = f"#microsoft.graph.windowsUpdates.{match.group(1)}"
        entries = [e for e in entries if e["@odata.type"] == wanted]
    return Reply(200, page(call, entries))


def get_entry(call: GraphCall) -> Reply:
    """One catalog entry by id."""
    entry = call.state.catalog.get(call.params["id"])
    if entry is None:
        raise not_found("catalog entry")
    return Reply(200, entry)


ROUTES: list[Route] = [
    route("GET", "/catalog/entries", list_entries),
    route("GET", "/catalog/entries/{id}", get_entry),
]
