"""GET /catalog/entries (with $filter, $orderby, $expand) and GET /catalog/entries/{id}."""

from __future__ import annotations

from typing import Any

from app.simulator.call import GraphCall, Reply, Route, route
from app.simulator.catalog_query import (
    EXPANDABLE,
    NS,
    PRODUCT_REVISIONS,
    apply_filter,
    apply_orderby,
    with_product_revisions,
)
from app.simulator.errors import not_found
from app.simulator.paging import page
from app.simulator.query import PAGING

ENTRY_TYPE = f"{NS}.catalogEntry"


def _expanded(call: GraphCall, entry: dict[str, Any]) -> dict[str, Any]:
    return with_product_revisions(entry) if call.expands(PRODUCT_REVISIONS) else entry


def list_entries(call: GraphCall) -> Reply:
    """All entries, filtered and ordered as asked (see catalog_query), paged."""
    entries = list(call.state.catalog.values())
    if "$filter" in call.options:
        entries = apply_filter(entries, call.options["$filter"])
    if "$orderby" in call.options:
        entries = apply_orderby(entries, call.options["$orderby"])
    return Reply(200, page(call, [_expanded(call, e) for e in entries]))


def get_entry(call: GraphCall) -> Reply:
    """One catalog entry by id."""
    entry = call.state.catalog.get(call.params["id"])
    if entry is None:
        raise not_found("catalog entry")
    return Reply(200, _expanded(call, entry))


ROUTES: list[Route] = [
    route(
        "GET",
        "/catalog/entries",
        list_entries,
        options=PAGING | {"$filter", "$orderby"},
        expandable=EXPANDABLE,
        entity_type=ENTRY_TYPE,
        context="catalog/entries{expand}",
    ),
    route(
        "GET",
        "/catalog/entries/{id}",
        get_entry,
        expandable=EXPANDABLE,
        entity_type=ENTRY_TYPE,
        context="catalog/entries{expand}/$entity",
    ),
]
