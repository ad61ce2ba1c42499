"""Running a worker: inside the API process (the embedded default) or as `python -m app worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import procrastinate
from procrastinate.worker import Worker

from app.jobs.services import JobServices
from app.jobs.tasks import QUEUE, STALLED_AFTER_SECONDS

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
POLL_SECONDS = 1.0
# On shutdown, running jobs get this long to finish their current step; then they are cancelled
# and retried by another worker (each operation resumes where its last commit left it).
GRACEFUL_SECONDS = 20.0


def build_worker(
    queue: procrastinate.App,
    services: JobServices,
    *,
    concurrency: int,
    install_signal_handlers: bool,
) -> Worker:
    """A worker of the service's queue whose tasks see `services`."""
    return Worker(
        queue,
        queues=[QUEUE],
        name="autopatch-worker",
        concurrency=concurrency,
        install_signal_handlers=install_signal_handlers,
        additional_context={"services": services},
        update_heartbeat_interval=HEARTBEAT_SECONDS,
        stalled_worker_timeout=STALLED_AFTER_SECONDS,
        fetch_job_polling_interval=POLL_SECONDS,
        shutdown_graceful_timeout=GRACEFUL_SECONDS,
        # Finished jobs leave no rows behind (operations and commands keep their own record);
        # the sweep alone would add one every 5 s.
        delete_jobs="successful",
    )


class InProcessWorker:
    """A worker running as a task of the API's event loop (RUN_WORKER=true); if it stops on an
    error (the database went away), a new one starts after a pause."""

    RESTART_SECONDS = 5.0

    def __init__(self, make_worker: Callable[[], Worker], stopping: asyncio.Event) -> None:
        self._make_worker = make_worker
        self._stopping_event = stopping
        self._worker: Worker | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start taking jobs."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping:
            self._worker = self._make_worker()
            try:
                await self._worker.run()  # type: ignore[no-untyped-call]
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the in-process worker stopped; starting a new one shortly")
            if not self._stopping:
                await asyncio.sleep(self.RESTART_SECONDS)

    async def stop(self) -> None:
        """Stop taking jobs and hand back what it holds: operations stop at their next committed
        step and are queued again; other jobs get GRACEFUL_SECONDS to finish."""
        self._stopping = True
        self._stopping_event.set()
        if self._worker is not None:
            self._worker.stop()  # type: ignore[no-untyped-call]
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, GRACEFUL_SECONDS + 5)
