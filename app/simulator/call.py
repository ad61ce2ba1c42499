"""What a Graph route handler receives and returns, and how a route is declared."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, QueryParams

from app.simulator.query import expand_items
from app.simulator.state import SimulatorState

ACTION_NS = r"(?:microsoft\.graph\.windowsUpdates\.)?"


@dataclass
class GraphCall:
    """One authenticated Graph request, already parsed."""

    state: SimulatorState
    method: str
    params: dict[str, str]
    query: QueryParams
    body: Any
    url: URL
    include_unknown_enum: bool
    options: dict[str, str] = field(default_factory=dict)  # system query options, `$` names

    def expands(self, nav: str) -> bool:
        """True when `$expand` names the navigation property `nav`."""
        return nav in expand_items(self.options)


@dataclass
class Reply:
    """A Graph response: status and JSON body (None: no body)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[GraphCall], Reply]


@dataclass(frozen=True)
class Route:
    """A Graph route: method, path pattern, handler, the query options it answers, and the
    `@odata.context` of its answers (after `$metadata#admin/windows/updates/`; `{name}` is a path
    parameter, `{expand}` the `(nav())` list of `$expand`)."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    options: frozenset[str] = frozenset()
    expandable: frozenset[str] = frozenset()
    entity_type: str = ""
    context: str | None = None


def route(
    method: str,
    pattern: str,
    handler: Handler,
    *,
    options: frozenset[str] = frozenset(),
    expandable: frozenset[str] = frozenset(),
    entity_type: str = "",
    context: str | None = None,
) -> Route:
    """A route: `{name}` captures one path segment; `{!action}` matches both action spellings."""
    regex = re.sub(r"\{!(\w+)\}", lambda m: ACTION_NS + m.group(1), pattern)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    if expandable:
        options = options | {"$expand"}
    return Route(
        method,
        re.compile(f"^{regex}$"),
        handler,
        options,
        expandable,
        entity_type,
        context,
    )
