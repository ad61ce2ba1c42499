"""Graph's date-time format as the simulator writes it: UTC, whole seconds, a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.simulator.timefmt import format_datetime


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 12, 5, 23, 59, 59, 999_999, tzinfo=UTC), "2026-12-05T23:59:59Z"),
        (
            datetime(2026, 12, 6, 1, 30, 0, 500_000, tzinfo=timezone(timedelta(hours=2))),
            "2026-12-05T23:30:00Z",
        ),
        (datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC), "1969-12-31T23:59:59Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59Z"),
        (datetime(9999, 12, 31, 23, 59, 58, 999_999, tzinfo=UTC), "9999-12-31T23:59:58Z"),
    ],
)
def test_utc_whole_seconds_with_a_z(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert format_datetime(value) == text  # the cached second gives the same text


def test_instants_in_one_second_share_its_text_and_the_next_second_does_not() -> None:
    second = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
    assert format_datetime(second + timedelta(microseconds=1)) == "2026-12-05T10:00:00Z"
    assert format_datetime(second + timedelta(seconds=1)) == "2026-12-05T10:00:01Z"
