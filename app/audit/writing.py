"""Audit events reach the database in one multi-row INSERT per flush, written by a statement
built once instead of by the ORM's unit of work, which cost twice the CPU for the same rows (a
chunk of an operation flushes three times). AuditRecorder lists the events it adds to a session;
when a flush has nothing else to write, they are inserted in that order and leave the session
with their `id` and `at` set, as the ORM would have left them. A flush that also writes other
rows is left to the ORM, which orders rows by their foreign keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.models import AuditEvent
from app.db import table_of

PENDING = "autopatch_audit_pending"  # Session.info: events added since the last flush, in order

_TABLE = table_of(AuditEvent)
_COLUMNS = (
    "actor",
    "action",
    "outcome",
    "rollout_id",
    "operation_id",
    "intent_id",
    "ticket",
    "reason",
    "request_id",
    "graph_request_ids",
    "device_ids",
    "detail",
)
_INSERT = insert(_TABLE).returning(_TABLE.c.id, _TABLE.c.at, sort_by_parameter_order=True)


def add(session: Session, audit_event: AuditEvent) -> None:
    """Add `audit_event` to the session, to be written with the session's next flush. Its lists
    and detail are set (AuditRecorder sets them): the columns refuse NULL, and no ORM default
    fills them in on this path."""
    session.add(audit_event)
    session.info.setdefault(PENDING, []).append(audit_event)


@event.listens_for(Session, "before_flush")
def _write_events_alone(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    pending: list[AuditEvent] = session.info.pop(PENDING, [])
    if not pending or session.dirty or session.deleted:
        return
    new = session.new
    if len(new) != len(pending) or any(e not in new for e in pending):
        return  # other rows too: the ORM writes them all
    rows = [{column: getattr(e, column) for column in _COLUMNS} for e in pending]
    written = session.connection().execute(_INSERT, rows).all()
    for audit_event, (event_id, at) in zip(pending, written, strict=True):
        session.expunge(audit_event)
        set_committed_value(audit_event, "id", event_id)
        set_committed_value(audit_event, "at", at)


@event.listens_for(Session, "after_soft_rollback")
def _forget_events(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)
