"""Audit events as CSV, and choosing CSV or JSON from an `Accept` header."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from app.api_types import format_utc
from app.audit.schemas import AuditEventOut

CSV_MEDIA_TYPE = "text/csv"
COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "outcome",
    "rolloutId",
    "operationId",
    "ticket",
    "reason",
    "requestId",
    "graphRequestIds",
    "deviceCount",
    "detail",
    "seq",
    "hash",
    "previousHash",
)


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def wants_csv(accept: str | None) -> bool:
    """True when the caller names `text/csv` and does not prefer `application/json` to it."""
    csv_q = json_q = 0.0
    for media_range in (accept or "").split(","):
        media_type, *params = media_range.split(";")
        media_type = media_type.strip().lower()
        if media_type in (CSV_MEDIA_TYPE, "text/*"):
            csv_q = max(csv_q, _q(params))
        elif media_type == "application/json":
            json_q = max(json_q, _q(params))
    return csv_q > 0 and csv_q >= json_q


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str | None) -> str:
    """A caller-supplied text made inert for spreadsheets (OWASP CSV injection): a leading
    `=`, `+`, `-`, `@`, tab or carriage return gets a `'` in front."""
    text = text or ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _row(event: AuditEventOut) -> list[str | int]:
    return [
        event.id,
        format_utc(event.at),
        safe_cell(event.actor),
        event.action,
        event.outcome,
        event.rolloutId or "",
        event.operationId or "",
        safe_cell(event.ticket),
        safe_cell(event.reason),
        safe_cell(event.requestId),
        " ".join(event.graphRequestIds),
        event.deviceCount,
        json.dumps(event.detail, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        event.seq,
        event.hash,
        event.previousHash,
    ]


def events_csv(events: Sequence[AuditEventOut]) -> str:
    """A header row and one row per event (RFC 4180: CRLF line ends, quotes where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(event) for event in events)
    return buffer.getvalue()
