"""Imports every module that declares tables, so Base.metadata knows them all."""

from app.audience.models import AudienceDevice
from app.audit.models import AuditEvent
from app.commands.models import Command
from app.devices.models import ManagedDevice
from app.idempotency.models import IdempotencyKey
from app.operations.models import Operation, OperationItem
from app.ratelimit.models import RateLimitCounter
from app.review.models import Change
from app.rollouts.models import Rollout

__all__ = [
    "AudienceDevice",
    "AuditEvent",
    "Change",
    "Command",
    "IdempotencyKey",
    "ManagedDevice",
    "Operation",
    "OperationItem",
    "RateLimitCounter",
    "Rollout",
]
