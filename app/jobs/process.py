"""`python -m app worker`: a worker process of its own (for API replicas with RUN_WORKER=false)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from procrastinate.worker import Worker
from prometheus_client import start_http_server
from uvicorn.loops.auto import auto_loop_factory

from app.db import create_engine, create_sessionmaker
from app.embedded_db import start_embedded_postgres
from app.graph.factory import build_graph_client
from app.jobs.queue import build_queue, opened
from app.jobs.wiring import WORKER_JOBS, job_services
from app.jobs.worker import build_worker
from app.logging_setup import configure_logging
from app.observability.graph_metrics import watch_graph_client
from app.observability.tracing import configure_tracing
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
    tracing = configure_tracing(settings.otel_exporter_otlp_endpoint, settings.otel_service_name)
    engine = create_engine(url)
    graph, close_graph = build_graph_client(settings)
    watch_graph_client("worker", graph.metrics)
    if settings.worker_metrics_port:
        # A thread of prometheus_client's own: /metrics answers even while jobs keep the loop busy.
        start_http_server(settings.worker_metrics_port, addr="0.0.0.0")
        log.info("metrics on port %d", settings.worker_metrics_port)
    queue = build_queue(url)
    try:
        async with opened(queue, url):
            services = job_services(settings, create_sessionmaker(engine), graph, queue, utc_now)
            log.info("worker started", extra={"graphMode": settings.graph_mode})
            current: list[Worker] = []

            def stop() -> None:
                """SIGTERM/SIGINT: take no new job, hand operations back, let others finish."""
                log.info("stopping: taking no new job, handing operations back")
                services.stopping.set()
                for running in current:
                    running.stop()  # type: ignore[no-untyped-call]

            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop)
            while not services.stopping.is_set():
                worker = build_worker(
                    queue, services, concurrency=WORKER_JOBS, install_signal_handlers=False
                )
                current[:] = [worker]
                try:
                    await worker.run()  # type: ignore[no-untyped-call]
                    break  # stopped by SIGTERM / SIGINT
                except Exception:
                    log.exception("the worker stopped on an error; starting again shortly")
                    await asyncio.sleep(RESTART_SECONDS)
    finally:
        await close_graph()
        await engine.dispose()
        if tracing is not None:
            tracing.close()
        log.info("worker stopped")


def main(settings: Settings) -> int:
    """Run a worker process; 2 when the configuration cannot work."""
    configure_logging(settings.log_level, settings.log_format)
    if settings.graph_mode == "simulator":
        print(f"configuration refused: {SIMULATOR_REFUSAL}", file=sys.stderr, flush=True)
        return 2
    # The event loop `serve` runs on (uvicorn's choice: uvloop where installed), so that a
    # worker of its own costs what the worker inside `serve` costs.
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(run_worker_process(settings))
    return 0
