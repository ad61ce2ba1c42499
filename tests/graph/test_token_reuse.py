"""MsalTokenProvider hands out MSAL's token without asking MSAL (a worker thread) each time,
for as long as MSAL's own cache would answer it, and never after an invalidation."""

from __future__ import annotations

from typing import Any

import pytest

from app.graph.auth import EXPIRY_MARGIN_SECONDS, MsalTokenProvider
from app.graph.errors import GraphAuthError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(clock: Clock, answers: list[dict[str, Any]]) -> tuple[MsalTokenProvider, list[int]]:
    tokens = MsalTokenProvider(
        authority="https://login.example/tenant", client_id="c", client_secret="s", clock=clock
    )
    asked: list[int] = []

    def acquire() -> dict[str, Any]:
        asked.append(1)
        return answers[min(len(asked), len(answers)) - 1]

    tokens._acquire = acquire  # type: ignore[method-assign]
    return tokens, asked


async def test_token_reused_until_msal_would_refresh_it() -> None:
    clock = Clock()
    first = {"access_token": "t1", "expires_in": 3599}
    tokens, asked = provider(clock, [first, {"access_token": "t2", "expires_in": 3599}])
    assert await tokens.token() == "t1"
    clock.now += 3599 - EXPIRY_MARGIN_SECONDS - 1
    assert await tokens.token() == "t1"
    assert len(asked) == 1
    clock.now += 2  # within 5 minutes of expiry: MSAL asks the IdP again
    assert await tokens.token() == "t2"
    assert len(asked) == 2


async def test_refresh_in_shortens_the_reuse() -> None:
    clock = Clock()
    answers = [
        {"access_token": "t1", "expires_in": 86399, "refresh_in": 43199},
        {"access_token": "t2", "expires_in": 86399, "refresh_in": 43199},
    ]
    tokens, asked = provider(clock, answers)
    assert await tokens.token() == "t1"
    clock.now += 43200
    assert await tokens.token() == "t2"
    assert len(asked) == 2


async def test_invalidate_and_errors_are_not_reused() -> None:
    clock = Clock()
    answers = [
        {"access_token": "t1", "expires_in": 3599},
        {"error": "invalid_client", "error_description": "no"},
        {"access_token": "t3", "expires_in": 3599},
    ]
    tokens, asked = provider(clock, answers)
    assert await tokens.token() == "t1"
    await tokens.invalidate()
    with pytest.raises(GraphAuthError, match="invalid_client"):
        await tokens.token()
    assert await tokens.token() == "t3"
    assert len(asked) == 3


async def test_short_lived_token_is_not_kept() -> None:
    clock = Clock()
    answers = [{"access_token": "t1", "expires_in": 60}, {"access_token": "t2", "expires_in": 60}]
    tokens, asked = provider(clock, answers)
    assert await tokens.token() == "t1"
    assert await tokens.token() == "t2"  # MSAL is asked each time, as before
    assert len(asked) == 2
