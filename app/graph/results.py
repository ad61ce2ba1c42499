"""What GraphClient methods return: the value plus Graph's request ids, and per-chunk outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from app.graph.errors import GraphError
from app.graph.specs import AudienceChange

T = TypeVar("T")

ChunkStatus = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True)
class GraphResult(Generic[T]):
    """A typed value and the `request-id` of every Graph response that produced it, in order."""

    value: T
    request_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkOutcome:
    """One chunk of a multi-call device operation.

    `succeeded`: Graph accepted the call (202: it applies later). `failed`: `error` holds the typed
    error after retries. `skipped`: not sent, because an earlier chunk failed with an error other
    than 400 (auth, permission, not found, throttling or outage after the retry budget), which
    this chunk would meet too.
    """

    ids: tuple[str, ...]
    status: ChunkStatus
    request_ids: tuple[str, ...] = ()
    error: GraphError | None = None
    change: AudienceChange | None = None

    @property
    def ok(self) -> bool:
        """True when Graph accepted this chunk."""
        return self.status == "succeeded"
