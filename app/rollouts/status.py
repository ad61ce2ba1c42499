"""A rollout's own status and the moves between statuses that are allowed: the one place."""

from __future__ import annotations

from enum import StrEnum


class RolloutStatus(StrEnum):
    """The lifecycle of our record; Graph's own state is an ObservedState beside it."""

    CREATING = "creating"  # intent recorded; Graph may or may not have the deployment yet
    ACTIVE = "active"  # Graph has the deployment
    FAILED = "failed"  # Graph refused, or reconciliation found nothing: nothing exists
    DELETED = "deleted"  # the deployment was deleted (through the service or outside it)

    def can_become(self, other: RolloutStatus) -> bool:
        """Whether a rollout in this status may move to `other` (staying put is no move)."""
        return other in TRANSITIONS[self]

    @property
    def is_terminal(self) -> bool:
        """No move leaves this status."""
        return not TRANSITIONS[self]


# creating → active: Graph created it, or reconciliation adopted the deployment it finds;
# creating → failed: Graph refused, or reconciliation finds no deployment with its audience;
# active → deleted: deleted through the service, or found deleted outside it.
TRANSITIONS: dict[RolloutStatus, frozenset[RolloutStatus]] = {
    RolloutStatus.CREATING: frozenset({RolloutStatus.ACTIVE, RolloutStatus.FAILED}),
    RolloutStatus.ACTIVE: frozenset({RolloutStatus.DELETED}),
    RolloutStatus.FAILED: frozenset(),
    RolloutStatus.DELETED: frozenset(),
}
INITIAL = RolloutStatus.CREATING


class ForbiddenTransition(ValueError):
    """A status change the lifecycle does not allow (a bug in the caller, never user input)."""

    def __init__(self, current: RolloutStatus | None, wanted: RolloutStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) if current else INITIAL.value
        start = current.value if current else "(new)"
        super().__init__(
            f"rollout status cannot go {start} → {wanted.value}; allowed: {allowed or 'none'}"
        )
        self.current = current
        self.wanted = wanted


def check_move(current: RolloutStatus | None, wanted: RolloutStatus) -> RolloutStatus:
    """`wanted` if a rollout in `current` (None: a new one) may be in it next; else raises."""
    if current is None:
        allowed = wanted == INITIAL
    else:
        allowed = wanted == current or current.can_become(wanted)
    if not allowed:
        raise ForbiddenTransition(current, wanted)
    return wanted
