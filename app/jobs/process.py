"""`python -m app worker`: a worker process of its own (for API replicas with RUN_WORKER=false)."""

from __future__ import annotations

import asyncio
import logging
import sys

from app.db import create_engine, create_sessionmaker
from app.embedded_db import start_embedded_postgres
from app.graph.factory import build_graph_client
from app.jobs.queue import build_queue, opened
from app.jobs.wiring import WORKER_JOBS, job_services
from app.jobs.worker import build_worker
from app.logging_setup import configure_logging
from app.settings import Settings
from app.state import utc_now

log = logging.getLogger(__name__)

# After an error (the database went away), a new worker starts after this pause.
RESTART_SECONDS = 5.0

SIMULATOR_REFUSAL = (
    "a separate worker cannot reach the built-in simulator, which lives inside the API process:"
    " run the simulator on its own (python -m app.simulator --tls) and set GRAPH_MODE=live for"
    " the API and the workers, or let serve run the worker (RUN_WORKER=true)"
)


async def run_worker_process(settings: Settings) -> None:
    """Take jobs until SIGTERM/SIGINT; running jobs finish their step or are handed back."""
    url = settings.database_url
    if url is None:
        url = await asyncio.to_thread(start_embedded_postgres, settings.data_dir)
    engine = create_engine(url)
    graph, close_graph = build_graph_client(settings)
    queue = build_queue(url)
    try:
        async with opened(queue, url):
            services = job_services(settings, create_sessionmaker(engine), graph, queue, utc_now)
            log.info("worker started", extra={"graphMode": settings.graph_mode})
            while True:
                worker = build_worker(
                    queue, services, concurrency=WORKER_JOBS, install_signal_handlers=True
                )
                try:
                    await worker.run()  # type: ignore[no-untyped-call]
                    break  # stopped by SIGTERM / SIGINT
                except Exception:
                    log.exception("the worker stopped on an error; starting again shortly")
                    await asyncio.sleep(RESTART_SECONDS)
    finally:
        await close_graph()
        await engine.dispose()
        log.info("worker stopped")


def main(settings: Settings) -> int:
    """Run a worker process; 2 when the configuration cannot work."""
    configure_logging(settings.log_level, settings.log_format)
    if settings.graph_mode == "simulator":
        print(f"configuration refused: {SIMULATOR_REFUSAL}", file=sys.stderr, flush=True)
        return 2
    asyncio.run(run_worker_process(settings))
    return 0
