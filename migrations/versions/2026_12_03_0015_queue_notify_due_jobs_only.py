"""The job queue notifies workers of a new job only when it is due now, not of one scheduled for
later.

procrastinate's trigger sends a NOTIFY for every job inserted as `todo`, and every listening
worker wakes and asks the queue for a job. A job scheduled for later cannot be taken yet, so
each of those wake-ups finds nothing: every command's safety-net job (due only once its
holder's lease has run out, minutes later) woke every worker once, the API's embedded one
included, in the middle of the request that queued it. Workers find scheduled jobs when they
come due by polling the queue anyway (every second, app/jobs/worker.py), as they always had
to: a NOTIFY at insert time never made a scheduled job start sooner.

The trigger keeps its name and function; only its condition changes. A later procrastinate
release's schema migration that recreates this trigger must keep the condition
(docs/architecture.md says so where it introduces the queue).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = "procrastinate_jobs_notify_queue_job_inserted_v1"
TODO = "new.status = 'todo'::procrastinate_job_status"
DUE_NOW = "(new.scheduled_at IS NULL OR new.scheduled_at <= now())"


def _notify_when(condition: str) -> None:
    op.execute(f"DROP TRIGGER {TRIGGER} ON procrastinate_jobs")
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON procrastinate_jobs FOR EACH ROW"
        f" WHEN ({condition}) EXECUTE PROCEDURE procrastinate_notify_queue_job_inserted_v1()"
    )


def upgrade() -> None:
    _notify_when(f"{TODO} AND {DUE_NOW}")


def downgrade() -> None:
    _notify_when(TODO)
