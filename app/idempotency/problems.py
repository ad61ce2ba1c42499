"""The problems of a request whose Idempotency-Key cannot be honoured as it stands."""

from __future__ import annotations

from app.problems import ProblemError


class IdempotencyKeyReused(ProblemError):
    type = "urn:problem:idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"
    status = 422


class IdempotencyKeyInFlight(ProblemError):
    type = "urn:problem:idempotency-key-in-flight"
    title = "The first request with this Idempotency-Key is still being processed"
    status = 409


class IdempotencyKeyInterrupted(ProblemError):
    type = "urn:problem:idempotency-key-interrupted"
    title = "The first request with this Idempotency-Key stopped after recording its change"
    status = 409
