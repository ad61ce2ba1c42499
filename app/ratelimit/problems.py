"""The problem of a caller over its rate: 429."""

from __future__ import annotations

from app.problems import ProblemError


class RateLimited(ProblemError):
    type = "urn:problem:rate-limited"
    title = "Too many requests"
    status = 429
