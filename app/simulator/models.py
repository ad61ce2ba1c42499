"""The simulator's in-memory records: deployments, audiences, devices and pending changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CATEGORIES = ("feature", "quality", "driver")


@dataclass
class Audience:
    """A deploymentAudience; members and exclusions keep insertion order."""

    id: str
    created: datetime
    members: dict[str, None] = field(default_factory=dict)
    exclusions: dict[str, None] = field(default_factory=dict)
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
