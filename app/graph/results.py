"""What GraphClient methods return: the value plus Graph's request ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class GraphResult(Generic[T]):
    """A typed value and the `request-id` of every Graph response that produced it, in order."""

    value: T
    request_ids: list[str] = field(default_factory=list)
