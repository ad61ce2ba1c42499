"""Audit events this process wrote (counted once their transaction committed)."""

from __future__ import annotations

from prometheus_client import Counter

AUDIT_EVENTS = Counter(
    "autopatch_audit_events_written_total",
    "Audit events committed by this process, by outcome (requested, succeeded, failed).",
    ["outcome"],
)
