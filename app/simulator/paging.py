"""Server-driven paging with absolute `@odata.nextLink` URLs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from app.simulator.call import GraphCall
from app.simulator.errors import bad_request
from app.simulator.query import canonical

QUERY_SAFE = "$(),'/:"


def page(
    call: GraphCall, items: Sequence[Any], render: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """One page of `items` (size: state.page_size, or $top if smaller) and a nextLink if more;
    `render` turns only the page's items into JSON, so listing a large collection page by page
    costs each page, not the whole collection, every time."""
    size = call.state.page_size
    top = call.options.get("$top")
    if top is not None:
        if not top.isdigit() or int(top) < 1:
            raise bad_request("Invalid value for $top.", "$top")
        size = min(size, int(top))
    token = call.options.get("$skiptoken") or "0"
    if not token.isdigit():
        raise bad_request("Invalid $skiptoken.", "$skiptoken")
    start = int(token)
    chunk = items[start : start + size]
    body: dict[str, Any] = {"value": [render(i) for i in chunk] if render else list(chunk)}
    if start + size < len(items):
        params = [(k, v) for k, v in call.query.multi_items() if canonical(k) != "$skiptoken"]
        params.append(("$skiptoken", str(start + size)))
        query = "&".join(f"{k}={quote(v, safe=QUERY_SAFE)}" for k, v in params)
        body["@odata.nextLink"] = f"{call.url.replace(query='')}?{query}"
    return body
