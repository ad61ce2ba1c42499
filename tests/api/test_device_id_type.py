"""EntraDeviceId: any case of a hyphenated GUID is accepted and kept in uuid's canonical text;
every other spelling uuid.UUID would read (braces, urn, no hyphens) is refused."""

from __future__ import annotations

import random
import uuid

import pytest
from pydantic import TypeAdapter, ValidationError

from app.api_types import EntraDeviceId

DEVICE_ID = TypeAdapter(EntraDeviceId)


def test_any_case_becomes_uuids_canonical_text() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        canonical = str(uuid.UUID(int=rng.getrandbits(128)))
        spelled = "".join(c.upper() if rng.random() < 0.5 else c for c in canonical)
        assert DEVICE_ID.validate_python(spelled) == canonical == str(uuid.UUID(spelled))


@pytest.mark.parametrize(
    "spelling",
    [
        "{0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01}",
        "urn:uuid:0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01",
        "0b8a3f5e54f14b1d9d7e3c8f2a1b6c01",
        "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c0",
        "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01 ",
        "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6g01",
    ],
)
def test_other_spellings_are_refused(spelling: str) -> None:
    with pytest.raises(ValidationError):
        DEVICE_ID.validate_python(spelling)
