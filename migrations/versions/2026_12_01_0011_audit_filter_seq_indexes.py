"""Audit list filters get indexes in the list's order: (rollout_id, seq), (ticket, seq) and
(actor, seq) replace the single-column indexes on rollout_id, ticket and actor.

`GET /v1/audit/events?actor=X` (and `ticket=`, `rolloutId=`) is `WHERE actor = X AND seq > cursor
ORDER BY seq LIMIT n`. With an index on `actor` alone the planner either fetches every event of
the actor and sorts them, or walks the `seq` index from the cursor and filters; it picks the
walk when the value is common, which is right only if the value's events are spread over the
whole log. Measured with 1,000,000 events (bench/audit_scale.py, docs/benchmarks.md): a caller
or a standing ticket with 1 % of the events, all of them among the newest, took 330-560 ms
(975,300 rows read and thrown away); with (actor, seq) the same first page reads 51 index
entries, 0.05-0.1 ms. A composite index also serves every lookup the single-column one did, so
those are dropped (one index fewer to write per event).

Plain CREATE INDEX: writes to audit_events wait while it runs (3 indexes over 1,000,000 events
took about 7 s on a 2-CPU machine).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("rollout_id", "ticket", "actor")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_audit_events_{column}_seq", "audit_events", [column, "seq"])
        op.drop_index(f"ix_audit_events_{column}", table_name="audit_events")


def downgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
        op.drop_index(f"ix_audit_events_{column}_seq", table_name="audit_events")
