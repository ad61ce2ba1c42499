"""The audit log's lookup indexes hold chained events only (WHERE seq IS NOT NULL), so that an
event enters each of them once instead of twice.

An event is inserted with no `seq`; the chain trigger gives it one at COMMIT (0007). Setting
`seq` changes an indexed column, so that UPDATE is not a heap-only one: the new version of the
row goes into every index of the table, and the INSERT's entries stay behind, dead. With
indexes that leave out rows without a `seq`, the INSERT writes the primary key and the `seq`
index only, and the UPDATE writes each index once. The GIN index over `device_ids` gains the
most: an event of a chunk names 200 devices, and each device of an added batch is named by 6
events. Measured on a 2-CPU machine, 600 events of 200 devices each (two per transaction) cost
PostgreSQL 0.41 s of CPU before and 0.22 s after when each device is named by 6 events, as in
an operation, and 0.84 s before and 0.33 s after when every device is new (docs/benchmarks.md).

Every reader sees chained events only: an event without a `seq` is one not committed yet,
which no other transaction sees. The list's `seq > cursor` implies `seq IS NOT NULL` for the
planner; the other readers name it (app/audit/service.py, app/rollouts/drift.py). The `seq`
index itself stays whole: it also finds an event left without a place in the chain
(`GET /v1/audit/verify`).

Each index is built CONCURRENTLY under a new name, then the old one is dropped (CONCURRENTLY)
and the new one renamed: the service keeps reading and writing audit events meanwhile, on the
old indexes until the new ones are in place. With 1,000,000 events naming 5 devices each, a
plain build held back writes for 43 s on a 2-CPU machine. Run again after a failure, the
migration first drops what a build cut short left behind (an index that is not valid).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAINED = "seq IS NOT NULL"

# name: (columns, method)
INDEXES: dict[str, tuple[list[str], str]] = {
    "ix_audit_events_device_ids": (["device_ids"], "gin"),
    "ix_audit_events_at": (["at"], "btree"),
    "ix_audit_events_action": (["action"], "btree"),
    "ix_audit_events_rollout_id_seq": (["rollout_id", "seq"], "btree"),
    "ix_audit_events_ticket_seq": (["ticket", "seq"], "btree"),
    "ix_audit_events_actor_seq": (["actor", "seq"], "btree"),
}


def _replace(name: str, columns: list[str], method: str, where: str | None) -> None:
    """Build the index anew under a temporary name, then put it in place of the old one; every
    step lets writes go on, and each can be run again."""
    building = f"{name}_new"
    condition = f" WHERE {where}" if where else ""
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")
    op.execute(
        f"CREATE INDEX CONCURRENTLY {building} ON audit_events"
        f" USING {method} ({', '.join(columns)}){condition}"
    )
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, (columns, method) in INDEXES.items():
            _replace(name, columns, method, CHAINED)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, (columns, method) in INDEXES.items():
            _replace(name, columns, method, None)
