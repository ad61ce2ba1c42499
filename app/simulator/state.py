"""SimulatorState: the simulator's configuration, data, clock, faults and call log in one object."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.simulator.calls import GRAPH_PREFIX, CallRecord, matches
from app.simulator.catalog import seed_catalog
from app.simulator.clock import SimulatorClock
from app.simulator.faults import FaultInjector
from app.simulator.models import Audience, Deployment, Device, PendingChange
from app.simulator.monitoring import trips_pause
from app.simulator.tokens import ROLES, TOKEN_LIFETIME, issue_access_token


@dataclass(eq=False)
class SimulatorState:
    """Everything one simulator instance knows; tests configure and inspect it directly.

    Configuration fields survive `reset()`; data, faults and the call log do not.
    """

    clock: SimulatorClock = field(default_factory=SimulatorClock)
    synchronous: bool = False
    async_delay_seconds: float = 5.0
    page_size: int = 100
    max_ids_per_call: int = 200
    empty_audience_404: bool = True
    require_auth: bool = True
    client_id: str | None = None
    client_secret: str | None = None
    client_certificates: list[str] = field(default_factory=list)
    granted_roles: list[str] = field(default_factory=lambda: list(ROLES))
    known_devices: set[str] | None = None
    seed: int = 0
    faults: FaultInjector = field(init=False)
    token_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    catalog: dict[str, dict[str, Any]] = field(default_factory=seed_catalog, repr=False)
    deployments: dict[str, Deployment] = field(default_factory=dict, repr=False)
    audiences: dict[str, Audience] = field(default_factory=dict, repr=False)
    devices: dict[str, Device] = field(default_factory=dict, repr=False)
    pending: list[PendingChange] = field(default_factory=list, repr=False)
    monitoring_signals: dict[str, float] = field(default_factory=dict, repr=False)
    calls: list[CallRecord] = field(default_factory=list, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _seq: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(seed=self.seed)

    # -- time and asynchronous application -------------------------------------------------

    def now(self) -> datetime:
        """The simulator clock's current time."""
        return self.clock.now()

    def schedule(self, description: str, apply: Callable[[], None]) -> None:
        """Run `apply` now when synchronous, else once the clock passes the async delay."""
        if self.synchronous:
            apply()
            return
        self._seq += 1
        due = self.now() + timedelta(seconds=self.async_delay_seconds)
        self.pending.append(PendingChange(due, self._seq, description, apply))

    def apply_due(self) -> int:
        """Apply every pending change whose time has come, oldest first; return how many."""
        with self.lock:
            now = self.now()
            due = sorted((p for p in self.pending if p.due <= now), key=lambda p: (p.due, p.seq))
            for change in due:
                self.pending.remove(change)
                change.apply()
            return len(due)

    def flush(self) -> int:
        """Apply every pending change now, whatever its due time (a test shortcut)."""
        with self.lock:
            changes = sorted(self.pending, key=lambda p: (p.due, p.seq))
            self.pending.clear()
            for change in changes:
                change.apply()
            return len(changes)

    def new_id(self) -> str:
        """A fresh Graph-style id (a GUID)."""
        return str(uuid.uuid4())

    # -- call log ---------------------------------------------------------------------------

    def find(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        status: int | None = None,
        *,
        path_endswith: str | None = None,
    ) -> list[CallRecord]:
        """The recorded calls that match every given filter."""
        return [
            c
            for c in list(self.calls)
            if matches(
                c,
                method=method,
                path_contains=path_contains,
                status=status,
                path_endswith=path_endswith,
            )
        ]

    def count(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        status: int | None = None,
        *,
        path_endswith: str | None = None,
    ) -> int:
        """How many recorded calls match every given filter."""
        return len(self.find(method, path_contains, status, path_endswith=path_endswith))

    def writes(self) -> list[CallRecord]:
        """Recorded non-GET calls to the Graph API (under /beta), whatever their status."""
        return [
            c for c in list(self.calls) if c.method != "GET" and c.path.startswith(GRAPH_PREFIX)
        ]

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        self.calls.clear()

    # -- inspection and admin hooks ---------------------------------------------------------

    def audience_for(self, deployment_id: str) -> Audience:
        """The audience bound to a deployment (KeyError when the deployment is unknown)."""
        self.apply_due()
        return self.audiences[self.deployments[deployment_id].audience_id]

    def members(self, audience_id: str) -> list[str]:
        """Member device ids of an audience, as listed by Graph (exclusions included)."""
        self.apply_due()
        return list(self.audiences[audience_id].members)

    def exclusions(self, audience_id: str) -> list[str]:
        """Excluded device ids of an audience."""
        self.apply_due()
        return list(self.audiences[audience_id].exclusions)

    def effective_targets(self, audience_id: str) -> list[str]:
        """Members that are not also exclusions: the devices the deployment really targets."""
        audience = self.audiences[audience_id]
        self.apply_due()
        return [d for d in audience.members if d not in audience.exclusions]

    def set_monitoring_signal(self, deployment_id: str, rollback_percent: float) -> None:
        """Report a rollback percentage for a deployment; a tripped pause rule pauses it."""
        with self.lock:
            deployment = self.deployments[deployment_id]
            self.monitoring_signals[deployment_id] = rollback_percent
            if trips_pause(deployment.settings, rollback_percent):
                deployment.paused_by_monitoring = True

    def register_certificate(self, pem: str | bytes) -> None:
        """Accept client assertions signed by this certificate's (or public key's) private key."""
        self.client_certificates.append(pem.decode() if isinstance(pem, bytes) else pem)

    def issue_token(
        self,
        client_id: str = "simulator-client",
        tenant: str = "simulator-tenant",
        expires_in: int = TOKEN_LIFETIME,
    ) -> str:
        """A token carrying `granted_roles` (negative `expires_in` makes an expired one)."""
        return issue_access_token(
            self.token_key,
            client_id=client_id,
            tenant=tenant,
            expires_in=expires_in,
            roles=self.granted_roles,
        )

    def reset(self, seed: int | None = None) -> None:
        """Drop all data, pending changes, faults and calls; reseed the catalog and the RNG."""
        with self.lock:
            if seed is not None:
                self.seed = seed
            self.catalog = seed_catalog()
            self.deployments.clear()
            self.audiences.clear()
            self.devices.clear()
            self.pending.clear()
            self.monitoring_signals.clear()
            self.calls.clear()
            self.faults.clear(self.seed)
