"""APPROVALS and APPROVAL_TTL: which changes wait for a second person, and for how long."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

CHANGE_ACTIONS = ("create", "patch", "pause", "resume", "archive", "delete", "audience", "release")
THRESHOLD_ACTIONS = ("audience", "release")
DEFAULT_TTL = "P3D"
_RULE = re.compile(r"^(?P<action>[a-z]+)(?:>(?P<above>\d{1,9}))?$")
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class ApprovalConfigError(ValueError):
    """APPROVALS or APPROVAL_TTL cannot be understood."""


@dataclass(frozen=True)
class ApprovalRules:
    """The changes `APPROVALS` names: some always (`create`), some only above a number of
    devices (`audience>100`). A create that adds devices counts as an audience change too, so a
    large audience cannot reach Graph through a create without the approval it would need."""

    always: frozenset[str] = frozenset()
    above: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.always or self.above)

    def requires(self, action: str, devices: int = 0) -> bool:
        """Does a request of `action` naming `devices` devices need a second person?"""
        if action in self.always:
            return True
        if action in self.above:
            return devices > self.above[action]
        if action == "create" and devices:
            return self.requires("audience", devices)
        return False


def parse_approvals(text: str | None) -> ApprovalRules:
    """`create,delete,audience>100` → ApprovalRules; ApprovalConfigError names what is wrong."""
    always: set[str] = set()
    above: dict[str, int] = {}
    for raw in (text or "").split(","):
        rule = raw.strip()
        if not rule:
            continue
        match = _RULE.match(rule)
        action = match.group("action") if match else None
        if match is None or action not in CHANGE_ACTIONS:
            raise ApprovalConfigError(
                f"{rule[:40]!r} is not a change; use {', '.join(CHANGE_ACTIONS)}, or"
                f" {' / '.join(a + '>N' for a in THRESHOLD_ACTIONS)}"
            )
        if match.group("above") is None:
            always.add(action)
        elif action in THRESHOLD_ACTIONS:
            above[action] = int(match.group("above"))
        else:
            raise ApprovalConfigError(f"{rule!r}: only audience and release take >N (devices)")
        if action in always and action in above:
            raise ApprovalConfigError(f"{action} is named both always and above a number")
    return ApprovalRules(frozenset(always), above)


def parse_ttl(text: str | None) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds (P3D, PT12H), > 0."""
    match = _DURATION.match((text or DEFAULT_TTL).strip())
    if match is None or (text or "").strip() in ("P", "PT"):
        raise ApprovalConfigError(
            f"{(text or '')[:40]!r} is not a duration such as P3D or PT12H (no years or months)"
        )
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    ttl = timedelta(**parts)
    if ttl <= timedelta(0):
        raise ApprovalConfigError("must be longer than zero")
    return ttl
