"""The background loop that settles loose ends: rollouts whose creation has no outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.rollouts.reconcile import reconcile_creating_rollouts
from app.state import AppState

log = logging.getLogger(__name__)


class Reconciler:
    """Runs reconciliation at start-up and every RECONCILE_INTERVAL_SECONDS."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop in the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop (a pass in progress is cancelled; the next start repeats it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        settings = self.state.settings
        while True:
            try:
                adopted = await reconcile_creating_rollouts(
                    self.state, min_age_seconds=settings.reconcile_after_seconds
                )
                if adopted:
                    log.info("reconciliation adopted deployments", extra={"rollouts": adopted})
            except Exception:
                log.exception("reconciliation pass failed; retrying next interval")
            await asyncio.sleep(settings.reconcile_interval_seconds)
