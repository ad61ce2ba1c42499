"""The simulator's in-memory records: deployments, audiences, devices and pending changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CATEGORIES = ("feature", "quality", "driver")


class OrderedIds(dict[str, None]):
    """Device ids in insertion order (a dict keyed by id, as Graph's sets are) whose list for
    paging is built once per change, not once per page: a page of a large audience then costs
    its own hundred ids, not a copy of all of them."""

    _order: list[str] | None = None

    def in_order(self) -> list[str]:
        """The ids in insertion order (do not change the list)."""
        if self._order is None:
            self._order = list(self)
        return self._order

    def __setitem__(self, key: str, value: None) -> None:
        if key not in self:
            self._order = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._order = None
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove `key` (returning its value, or `default` when absent)."""
        self._order = None
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, None]:
        """Remove the last id."""
        self._order = None
        return super().popitem()

    def clear(self) -> None:
        """Remove every id."""
        self._order = None
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add ids (dict.update)."""
        self._order = None
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: None = None) -> None:
        """Add `key` if absent."""
        self._order = None
        return super().setdefault(key, default)

    def __ior__(self, other: Any) -> OrderedIds:  # type: ignore[override,misc]
        self._order = None
        return super().__ior__(other)


@dataclass
class Audience:
    """A deploymentAudience; members and exclusions keep insertion order."""

    id: str
    created: datetime
    members: OrderedIds = field(default_factory=OrderedIds)
    exclusions: OrderedIds = field(default_factory=OrderedIds)
    standalone: bool = False
    ever_used: bool = False
    deployment_id: str | None = None


@dataclass
class Deployment:
    """A deployment: content and audience fixed at creation, settings and requested state not."""

    id: str
    entry_id: str
    entry_type: str
    settings: dict[str, Any]
    audience_id: str
    created: datetime
    last_modified: datetime
    requested: str = "none"
    paused_by_monitoring: bool = False
    patched: bool = False  # changed by a PATCH since creation (offering is then "by request")


@dataclass
class Enrollment:
    """A device's enrollment in one update category."""

    state: str
    last_modified: datetime


@dataclass
class Device:
    """An azureADDevice updatable asset."""

    id: str
    enrollment: dict[str, Enrollment]
    errors: list[str] = field(default_factory=list)


@dataclass
class PendingChange:
    """A 202-accepted change that takes effect once the simulator clock reaches `due`."""

    due: datetime
    seq: int
    description: str
    apply: Callable[[], None]
