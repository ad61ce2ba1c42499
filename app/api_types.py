"""Field types shared by the public API models: device ids, durations, UTC instants, pages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

T = TypeVar("T")

MAX_DEVICES_PER_REQUEST = 100_000

_DURATION = re.compile(r"^P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _entra_device_id(value: str) -> str:
    if not _GUID.match(value):
        raise ValueError(f"not an Entra device id (a GUID): {value[:80]!r}")
    return str(uuid.UUID(value))


def _iso_duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"not an ISO 8601 duration such as P7D or PT12H: {value[:40]!r}")
    if not re.search(r"[1-9]", value):
        raise ValueError("the duration must be longer than zero")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, seconds precision unless there are fractions."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


EntraDeviceId = Annotated[
    str,
    Field(
        description="Microsoft Entra device id (a GUID)",
        examples=["0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"],
        max_length=64,
    ),
    AfterValidator(_entra_device_id),
]
DeviceIdList = Annotated[list[EntraDeviceId], Field(max_length=MAX_DEVICES_PER_REQUEST)]
IsoDuration = Annotated[
    str,
    Field(description="ISO 8601 duration", examples=["P7D"], max_length=40),
    AfterValidator(_iso_duration),
]
UtcTimestamp = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    Field(description="RFC 3339 timestamp with an offset", examples=["2026-12-01T08:00:00Z"]),
]
Ticket = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    Field(description="The change ticket this is done under", examples=["CHG0012345"]),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    Field(description="Why, in a sentence", examples=["Quarterly OS upgrade, pilot"]),
]


class StrictModel(BaseModel):
    """Request models: unknown fields are errors (numbers and booleans use Strict* types)."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """A page of a collection; pass `nextCursor` back as `cursor` for the next one."""

    items: list[T]
    nextCursor: str | None = Field(description="null on the last page")


UtcOut = Annotated[
    datetime,
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    Field(examples=["2026-12-01T08:00:00Z"]),
]
