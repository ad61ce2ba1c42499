"""Graph's wire formats for date-times and ISO 8601 durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

DATETIME_RE = re.compile(
    r"^[0-9]{4,}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"([.][0-9]{1,12})?(Z|[+-][0-9][0-9]:[0-9][0-9])$"
)
DURATION_RE = re.compile(
    r"^(?P<sign>-?)P(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+(?:[.][0-9]+)?)S)?)?$"
)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def format_datetime(value: datetime) -> str:
    """Render a datetime the way Graph does: UTC with a trailing Z, whole seconds."""
    if value.tzinfo is None:  # local time, as astimezone reads it
        value = value.astimezone(UTC)
    # Whole seconds since the epoch, exactly: a float timestamp rounds .999999 up to the
    # next second far from 1970 (in 9999), and hashing a datetime costs more than strftime.
    return _format_second((value - EPOCH) // SECOND)


@lru_cache(maxsize=4096)
def _format_second(second: int) -> str:
    """Cached: a page of devices changed by the same few calls repeats the same seconds."""
    return (EPOCH + second * SECOND).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime | None:
    """Parse a Graph date-time (offset required); None when it is not one."""
    if not DATETIME_RE.match(text):
        return None
    fixed = text[:-1] + "+00:00" if text.endswith("Z") else text
    head, dot, rest = fixed.partition(".")
    if dot:  # Python accepts at most 6 fractional digits.
        digits = re.match(r"[0-9]+", rest)
        frac = digits.group(0) if digits else ""
        fixed = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
    try:
        return datetime.fromisoformat(fixed).astimezone(UTC)
    except ValueError:
        return None


MAX_TIMESPAN = timedelta(days=10_675_199)  # .NET TimeSpan.MaxValue, whole days


def parse_duration(text: str) -> timedelta | None:
    """Parse an ISO 8601 day-time duration (PnDTnHnMnS); None when malformed or empty."""
    match = DURATION_RE.match(text)
    if not match or text.rstrip("-") in ("P", "PT") or text.endswith("T"):
        return None
    parts = match.groupdict()
    if not any(parts[k] for k in ("days", "hours", "minutes", "seconds")):
        return None
    try:
        value = timedelta(
            days=int(parts["days"] or 0),
            hours=int(parts["hours"] or 0),
            minutes=int(parts["minutes"] or 0),
            seconds=float(parts["seconds"] or 0),
        )
    except OverflowError:  # longer than any duration Graph's Edm.Duration (a .NET TimeSpan) holds
        return None
    if abs(value) > MAX_TIMESPAN:
        return None
    return -value if parts["sign"] else value
