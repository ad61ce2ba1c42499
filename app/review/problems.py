"""The problems of change review."""

from __future__ import annotations

from app.problems import ProblemError


class SelfApproval(ProblemError):
    type = "urn:problem:self-approval"
    title = "A change needs the approval of someone other than its requester"
    status = 403


class ChangeDecided(ProblemError):
    type = "urn:problem:change-decided"
    title = "The change was already decided"
    status = 409


class ChangeExpired(ProblemError):
    type = "urn:problem:change-expired"
    title = "The change waited longer than APPROVAL_TTL and expired"
    status = 409


class ChangeNoLongerApplies(ProblemError):
    type = "urn:problem:change-no-longer-applies"
    title = "The change no longer applies to the current state"
    status = 409
