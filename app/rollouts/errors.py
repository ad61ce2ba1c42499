"""Problems specific to rollouts."""

from __future__ import annotations

from app.problems import Conflict, ValidationFailed


class RolloutArchived(Conflict):
    type = "urn:problem:rollout-archived"
    title = "The rollout is archived"


class RolloutDeleted(Conflict):
    type = "urn:problem:rollout-deleted"
    title = "The rollout is deleted"


class RolloutNotActive(Conflict):
    type = "urn:problem:rollout-not-active"
    title = "The rollout has no Graph deployment to act on"


class UpdateImmutable(ValidationFailed):
    type = "urn:problem:update-immutable"
    title = "The update of a rollout cannot change"


class TicketRequired(ValidationFailed):
    type = "urn:problem:ticket-required"
    title = "A change ticket is required"
