"""The tasks workers run: an operation (one job per operation, its chunks inside), and the
periodic sweep that retries the jobs of dead workers and settles creations whose outcome was
lost."""

from __future__ import annotations

import logging
import uuid

import procrastinate
from procrastinate import JobContext

from app.graph.errors import GraphError
from app.jobs.services import JobServices
from app.observability.tracing import TRACER
from app.operations.executor import HandedBack
from app.ratelimit.storage import DELETE_EXPIRED_COUNTERS

log = logging.getLogger(__name__)

QUEUE = "graph"
RUN_OPERATION = "run_operation"
EXECUTE_COMMAND = "execute_command"
SWEEP = "sweep"
# A job whose worker sent no heartbeat for this long is retried by another worker.
STALLED_AFTER_SECONDS = 6.0
OPERATION_ATTEMPTS = 16
SWEEP_SECONDS = 5
PURGE_INTERVAL_SECONDS = 300


def services_of(context: JobContext) -> JobServices:
    """The services the worker was started with (its job context carries them)."""
    services: JobServices = context.additional_context["services"]
    return services


async def run_operation(context: JobContext, operation_id: str) -> None:
    """Apply one operation to the end (resumable: what a previous attempt did is not redone).

    While Graph is down the job fails with WaitingForGraph and is tried again, backing off
    (2 s, 4 s, 8 s … doubling, about 18 hours in all); its last attempt fails what is still
    unsent."""
    final = context.job.attempts + 1 >= OPERATION_ATTEMPTS
    try:
        with TRACER.start_as_current_span(
            "job run_operation", attributes={"autopatch.operation_id": operation_id}
        ):
            await services_of(context).executor.apply(uuid.UUID(operation_id), final=final)
    except HandedBack:
        # This worker is stopping: a new job (same lock) lets another worker resume at once,
        # without using up the attempts kept for Graph outages.
        await (
            context.app.tasks[context.task.name]
            .configure(queue=QUEUE, lock=context.job.lock)
            .defer_async(operation_id=operation_id)
        )
        log.info("operation %s handed back to the queue: this worker is stopping", operation_id)


async def execute_command(context: JobContext, command_id: str) -> None:
    """Run a command its requester did not finish (it died, or Graph's outcome was unclear);
    while it is still unfinished afterwards (another executor holds it, or Graph's answer was
    unclear again) this job comes back after another lease."""
    services = services_of(context)
    command = uuid.UUID(command_id)
    try:
        with TRACER.start_as_current_span(
            "job execute_command", attributes={"autopatch.command_id": command_id}
        ):
            await services.commands.execute(command)
    except GraphError as error:
        log.warning("command %s failed at Graph: %s", command_id, error)
    if await services.commands.unfinished(command):
        await (
            context.app.tasks[context.task.name]
            .configure(
                queue=QUEUE, schedule_in={"seconds": int(services.commands.lease_seconds) + 1}
            )
            .defer_async(command_id=command_id)
        )


async def sweep(context: JobContext, timestamp: int) -> None:
    """Every 5 s on one worker: retry jobs whose worker died, settle lost creations; every
    5 minutes delete expired Idempotency-Keys; every minute expire changes past APPROVAL_TTL;
    look for drift every RECONCILE_INTERVAL_SECONDS."""
    services = services_of(context)
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        log.warning("retrying job %s of a worker that stopped answering", job.id)
        await manager.retry_job(job)
    await services.settle_creations()
    if crosses_interval(timestamp, PURGE_INTERVAL_SECONDS):
        await services.purge_expired()
    if crosses_interval(timestamp, services.reconcile_interval_seconds):
        found = await services.reconcile_drift()
        if found:
            log.info("drift found in %s rollout(s); see the audit log", found)
    if crosses_interval(timestamp, 60):
        expired = await services.expire_changes()
        if expired:
            log.info("%d change(s) expired waiting for approval", expired)
        # Rate-limit counters of callers gone idle.
        await context.app.connector.execute_query_async(DELETE_EXPIRED_COUNTERS)


def crosses_interval(timestamp: int, interval: float) -> bool:
    """True for the one 5-second sweep tick in which a new `interval` begins, so that the
    drift check runs once per RECONCILE_INTERVAL_SECONDS across all workers, keeping no state."""
    return int(timestamp // interval) != int((timestamp - SWEEP_SECONDS) // interval)


def blueprint() -> procrastinate.Blueprint:
    """The service's tasks, on a new blueprint (a blueprint binds to one queue app)."""
    tasks = procrastinate.Blueprint()
    tasks.task(
        name=RUN_OPERATION,
        queue=QUEUE,
        pass_context=True,
        # Graph or the database down, or a crash of the task itself: try again, backing off.
        retry=procrastinate.RetryStrategy(max_attempts=OPERATION_ATTEMPTS, exponential_wait=2),
    )(run_operation)
    tasks.task(
        name=EXECUTE_COMMAND,
        queue=QUEUE,
        pass_context=True,
        # The database down, or the job cut short at shutdown: try again, backing off.
        retry=procrastinate.RetryStrategy(max_attempts=OPERATION_ATTEMPTS, exponential_wait=2),
    )(execute_command)
    tasks.periodic(cron=f"* * * * * */{SWEEP_SECONDS}")(
        tasks.task(name=SWEEP, queue=QUEUE, pass_context=True)(sweep)
    )
    return tasks
