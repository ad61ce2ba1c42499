"""Field types shared by the public API models, and the one set of input limits.

Every limit a caller can hit is a constant here; request models and query parameters use them,
and each is the size of the database column the value ends up in, or smaller (a test compares
them with the SQLAlchemy columns). Text may never contain NUL: PostgreSQL cannot store it, so a
NUL is refused as a 422 naming the field before anything is sent or written.
"""

from __future__ import annotations

import re
from copy import deepcopy
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    field_validator,
)

T = TypeVar("T")

# ---- Limits: the API's, equal to (or under) the database columns they are stored in ----
TICKET_MAX_LENGTH = 128  # rollouts.ticket, operations.ticket, audit_events.ticket
ACTOR_MAX_LENGTH = 256  # audit_events.actor, operations.actor, rollouts.created_by
ACTION_MAX_LENGTH = 64  # audit_events.action
REQUEST_ID_MAX_LENGTH = 128  # audit_events.request_id, operations.request_id
CATALOG_ENTRY_ID_MAX_LENGTH = 128  # rollouts.catalog_entry_id
DEVICE_ID_MAX_LENGTH = 36  # a GUID; the device_id columns hold 64
NAME_MAX_LENGTH = 200  # rollouts.name (text)
REASON_MAX_LENGTH = 2000  # the reason columns (text)
VERSION_MAX_LENGTH = 200  # rollouts.update_version (text)
DURATION_MAX_LENGTH = 40
CURSOR_MAX_LENGTH = 512
MAX_DEVICES_PER_REQUEST = 100_000
MAX_MONITORING_RULES = 10

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character (\\u0000)"
# JSON Schema (ECMA-262) patterns documenting the NUL rule in OpenAPI.
NO_NUL_PATTERN = "^[^\\u0000]*$"
NOT_BLANK_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"

GUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_GUID = re.compile(GUID_PATTERN)
# Days and time only, as Graph's durations (Edm.Duration: no years, months or weeks).
_DURATION = re.compile(r"^P(?=[0-9]|T[0-9])([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$")
_DATE_UNITS, _TIME_UNITS = ("D",), ("H", "M", "S")


def _nonzero_duration_pattern() -> str:
    """`_DURATION` with at least one non-zero part, without look-arounds (for generators)."""
    units = _DATE_UNITS + _TIME_UNITS
    any_, zero, nonzero = "[0-9]+", "0+", "0*[1-9][0-9]*"
    dates = len(_DATE_UNITS)
    branches = []
    for first in range(len(units)):  # the first unit whose value is not zero
        parts = []
        for index, unit in enumerate(units):
            value = zero if index < first else nonzero if index == first else any_
            parts.append(f"{value}{unit}" if index == first else f"(?:{value}{unit})?")
        date, time = "".join(parts[:dates]), "".join(parts[dates:])
        if first >= dates:
            branches.append(f"{date}T{time}")
            continue
        after = [f"{any_}{u}" for u in _TIME_UNITS]
        some_time = "|".join(
            "".join([after[i], *(f"(?:{a})?" for a in after[i + 1 :])]) for i in range(len(after))
        )
        branches.append(f"{date}(?:T(?:{some_time}))?")
    return "^P(?:" + "|".join(branches) + ")$"


DURATION_PATTERN = _nonzero_duration_pattern()


def _entra_device_id(value: str) -> str:
    """The id in canonical form: GUID_PATTERN admits only the hyphenated form, which is
    uuid.UUID's own text once lower-cased (a sixth of the cost of parsing it)."""
    if not _GUID.fullmatch(value):
        raise ValueError(f"not an Entra device id (a GUID): {value[:80]!r}")
    return value.lower()


MAX_DURATION_DAYS = 3650
"""Our ceiling for a schedule's durations: ten years, far past any real rollout."""


def _duration_seconds(match: re.Match[str]) -> int:
    days, hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.group(1, 3, 4, 5))
    return (((days * 24) + hours) * 60 + minutes) * 60 + seconds


def _iso_duration(value: str) -> str:
    match = _DURATION.fullmatch(value)
    if not match:
        raise ValueError(f"not an ISO 8601 duration such as P7D or PT12H: {value[:40]!r}")
    length = _duration_seconds(match)
    if length == 0:
        raise ValueError("the duration must be longer than zero")
    if length > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"the duration must be at most {MAX_DURATION_DAYS} days (ten years)")
    return value


def _timestamp_text(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 timestamp string such as 2026-12-01T08:00:00Z")
    return value


def _whole_number(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
YEAR_PATTERN = "^[2-9][0-9]{3}-"  # RFC 3339 timestamps from the year 2000 on


def _to_utc(value: datetime) -> datetime:
    if value.year < EARLIEST.year:
        raise ValueError("must be in the year 2000 or later")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is after the last datetime
        raise ValueError("must be before the year 10000 in UTC") from None


def format_utc(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, seconds precision unless there are fractions."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def no_nul(value: str) -> str:
    """The rule PostgreSQL imposes on every text: no NUL character."""
    if NUL in value:
        raise ValueError(NUL_MESSAGE)
    return value


JsonInt = Annotated[int, Strict(), BeforeValidator(_whole_number)]
"""A JSON integer: 5 or 5.0 (JSON Schema's integer), never 5.5, "5" or true."""

EntraDeviceId = Annotated[
    str,
    Field(
        description="Microsoft Entra device id (a GUID)",
        examples=["0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"],
        max_length=DEVICE_ID_MAX_LENGTH,
        json_schema_extra={"format": "uuid", "pattern": GUID_PATTERN},
    ),
    AfterValidator(_entra_device_id),
]
DeviceIdList = Annotated[list[EntraDeviceId], Field(max_length=MAX_DEVICES_PER_REQUEST)]
IsoDuration = Annotated[
    str,
    Field(
        description=f"ISO 8601 duration, longer than zero, at most {MAX_DURATION_DAYS} days",
        examples=["P7D"],
        max_length=DURATION_MAX_LENGTH,
        json_schema_extra={"pattern": DURATION_PATTERN},
    ),
    AfterValidator(_iso_duration),
]
UtcTimestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_text),
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    Field(
        description="RFC 3339 timestamp with an offset, from the year 2000 on",
        examples=["2026-12-01T08:00:00Z"],
        json_schema_extra={"pattern": YEAR_PATTERN},
    ),
]


_NOT_BLANK: dict[str, Any] = {"pattern": NOT_BLANK_PATTERN}

Ticket = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TICKET_MAX_LENGTH),
    Field(
        description="The change ticket this is done under",
        examples=["CHG0012345"],
        json_schema_extra=_NOT_BLANK,
    ),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX_LENGTH),
    Field(
        description="Why, in a sentence",
        examples=["Quarterly OS upgrade, pilot"],
        json_schema_extra=_NOT_BLANK,
    ),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    Field(examples=["Windows 11 24H2 – pilot ring"], json_schema_extra=_NOT_BLANK),
]


def document_no_nul(schema: dict[str, Any]) -> None:
    """Give every free string in `schema` the NUL-free pattern the validator enforces."""
    constrained = schema.keys() & {"pattern", "format", "enum", "const"}
    if schema.get("type") == "string" and not constrained:
        schema["pattern"] = NO_NUL_PATTERN
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            document_no_nul(member)
    for nested in (schema.get("items"), *schema.get("properties", {}).values()):
        if isinstance(nested, dict):
            document_no_nul(nested)


def _model_schema_extra(schema: dict[str, Any], model: type[BaseModel]) -> None:
    document_no_nul(schema)
    schema.update(deepcopy(getattr(model, "schema_rules", {})))


class StrictModel(BaseModel):
    """Request models: unknown fields are errors, text never holds NUL (integers are JsonInt,
    booleans StrictBool: no `false` taken for a number)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_model_schema_extra)

    schema_rules: ClassVar[dict[str, Any]] = {}
    """JSON Schema keywords stating the model's cross-field validators in OpenAPI."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_in_text(cls, value: Any) -> Any:
        """Refuse NUL in any text field, whatever its type says (one rule for every model)."""
        if isinstance(value, str):
            no_nul(value)
        return value


class Page(BaseModel, Generic[T]):
    """A page of a collection; pass `nextCursor` back as `cursor` for the next one."""

    items: list[T]
    nextCursor: str | None = Field(description="null on the last page")


UtcOut = Annotated[
    datetime,
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    Field(examples=["2026-12-01T08:00:00Z"]),
]
