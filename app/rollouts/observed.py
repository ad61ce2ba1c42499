"""Graph's state of a deployment as the service last observed it (the `graph_state` column)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.graph.wire import Deployment

UNKNOWN = "unknown"  # Graph sent no effective state


@dataclass(frozen=True)
class ObservedState:
    """effective (scheduled, offering, paused, faulted, archived), requested (none, paused,
    archived), Graph's reasons, and when the service saw them."""

    effective: str
    requested: str | None
    reasons: tuple[str, ...]
    observed_at: datetime | None

    @classmethod
    def from_deployment(cls, deployment: Deployment, now: datetime) -> ObservedState:
        """What a deployment Graph answered says about its state, seen at `now`."""
        state = deployment.state
        if state is None:
            return cls(UNKNOWN, None, (), now)
        reasons = tuple(reason.value for reason in state.reasons)
        return cls(state.effective_value or UNKNOWN, state.requested_value, reasons, now)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObservedState:
        """The state kept in `graph_state` (see to_record)."""
        observed = record.get("observedAt")
        return cls(
            effective=record.get("effective") or UNKNOWN,
            requested=record.get("requested"),
            reasons=tuple(record.get("reasons") or ()),
            observed_at=datetime.fromisoformat(observed) if observed else None,
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON kept in `graph_state`: effective, requested, reasons, observedAt."""
        return {
            **self.public(),
            "observedAt": self.observed_at.isoformat() if self.observed_at else None,
        }

    def public(self) -> dict[str, Any]:
        """effective, requested and reasons, as audit events show a state."""
        return {
            "effective": self.effective,
            "requested": self.requested,
            "reasons": list(self.reasons),
        }

    def differs_from(self, other: ObservedState) -> bool:
        """Graph reports another state: effective or reasons changed (not only the time)."""
        return (self.effective, self.reasons) != (other.effective, other.reasons)

    @property
    def is_archived(self) -> bool:
        """Graph has archived the deployment: it offers nothing any more."""
        return self.effective == "archived"
