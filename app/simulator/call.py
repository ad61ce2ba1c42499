"""What a Graph route handler receives and returns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, QueryParams

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

    def expands(self, nav: str) -> bool:
        """True when `$expand` names the navigation property `nav`."""
        raw = self.query.get("$expand") or ""
        return nav in {part.strip() for part in raw.split(",")}


@dataclass
class Reply:
    """A Graph response: status and JSON body (None: no body)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[GraphCall], Reply]
Route = tuple[str, re.Pattern[str], Handler]


def route(method: str, pattern: str, handler: Handler) -> Route:
    """A route: `{name}` captures one path segment; `{!action}` matches both action spellings."""
    regex = re.sub(r"\{!(\w+)\}", lambda m: ACTION_NS + m.group(1), pattern)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    return method, re.compile(f"^{regex}$"), handler
