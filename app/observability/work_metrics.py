"""The state of the service's work, read from the database when Prometheus scrapes: commands,
operations and their devices, and the job queue. Every API replica reports the same numbers
(they are the database's), so aggregate them with max(), not sum()."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.commands.models import COMMAND_STATUSES
from app.operations.models import OPERATION_STATUSES

COMMANDS = Gauge("autopatch_commands", "Commands (synchronous Graph writes) by status.", ["status"])
COMMAND_AGE = Gauge(
    "autopatch_commands_oldest_age_seconds",
    "Age of the oldest command still queued or running (0 when there is none).",
    ["status"],
)
OPERATIONS = Gauge("autopatch_operations", "Operations by status.", ["status"])
OPERATION_DEVICES = Gauge(
    "autopatch_operation_devices",
    "Devices of the operations not finished yet (queued or running), by progress.",
    ["progress"],
)
JOBS = Gauge("autopatch_jobs", "Jobs in the worker queue by status.", ["status"])
DATABASE_UP = Gauge(
    "autopatch_database_up", "1 when the last scrape could read the database, else 0."
)
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
_UNFINISHED = ("queued", "running")


async def refresh_work_gauges(session: AsyncSession) -> None:
    """Set the gauges above from the database (a handful of small aggregate queries)."""
    commands = dict.fromkeys(COMMAND_STATUSES, 0)
    ages = dict.fromkeys(_UNFINISHED, 0.0)
    rows = await session.execute(
        text(
            "SELECT status, count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
            " FROM commands GROUP BY status"
        )
    )
    for status, count, age in rows:
        commands[status] = count
        if status in ages:
            ages[status] = float(age)
    for status, count in commands.items():
        COMMANDS.labels(status).set(count)
    for status, age in ages.items():
        COMMAND_AGE.labels(status).set(age)

    await _set_counts(session, OPERATIONS, "operations", "status", OPERATION_STATUSES)
    total, succeeded, failed = (
        await session.execute(
            text(
                "SELECT coalesce(sum(total), 0), coalesce(sum(succeeded), 0),"
                " coalesce(sum(failed), 0) FROM operations WHERE status IN ('queued', 'running')"
            )
        )
    ).one()
    OPERATION_DEVICES.labels("succeeded").set(succeeded)
    OPERATION_DEVICES.labels("failed").set(failed)
    OPERATION_DEVICES.labels("remaining").set(total - succeeded - failed)

    await _set_counts(session, JOBS, "procrastinate_jobs", "status::text", JOB_STATUSES)


async def _set_counts(
    session: AsyncSession, gauge: Gauge, table: str, column: str, values: tuple[str, ...]
) -> None:
    """`gauge{status=…}` from the rows of `table` grouped by `column` (0 for absent values)."""
    counts = dict.fromkeys(values, 0)
    rows = await session.execute(text(f"SELECT {column}, count(*) FROM {table} GROUP BY 1"))
    for value, count in rows:
        counts[value] = count
    for value, count in counts.items():
        gauge.labels(value).set(count)
