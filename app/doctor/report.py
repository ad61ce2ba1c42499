"""One check's outcome and the line it prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "FAILED", "skipped"]
NAME_WIDTH = 13


@dataclass(frozen=True)
class Check:
    """What one check found; a failed check says how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    @classmethod
    def ok(cls, name: str, detail: str) -> Check:
        return cls(name, "ok", detail)

    @classmethod
    def failed(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name, "FAILED", detail, fix)

    @classmethod
    def skipped(cls, name: str, detail: str) -> Check:
        return cls(name, "skipped", detail)

    def line(self) -> str:
        """`status  name  detail[; fix: …]` on one line, whatever the messages held."""
        text = self.detail if self.fix is None else f"{self.detail}; fix: {self.fix}"
        return f"{self.status:<7} {self.name:<{NAME_WIDTH}} {' '.join(text.split())}"
