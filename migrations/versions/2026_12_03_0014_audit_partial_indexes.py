"""The audit log's lookup indexes hold chained events only (WHERE seq IS NOT NULL), so that an
event enters each of them once instead of twice.

An event is inserted with no `seq`; the chain trigger gives it one at COMMIT (0007). Setting
`seq` changes an indexed column, so that UPDATE is not a heap-only one: the new version of the
row goes into every index of the table, and the INSERT's entries stay behind, dead. With
indexes that leave out rows without a `seq`, the INSERT writes the primary key and the `seq`
index only, and the UPDATE writes each index once. The GIN index over `device_ids` gains the
most: an event of a chunk names 200 devices, and each device of an added batch is named by 6
events. Measured on a 2-CPU machine, 600 events of 200 devices each (two per transaction) cost
PostgreSQL 0.84 s of CPU before and 0.33 s after (docs/benchmarks.md).

Every reader sees chained events only: an event without a `seq` is one not committed yet,
which no other transaction sees. The list's `seq > cursor` implies `seq IS NOT NULL` for the
planner; the other readers name it (app/audit/service.py, app/rollouts/drift.py). The `seq`
index itself stays whole: it also finds an event left without a place in the chain
(`GET /v1/audit/verify`).

Each index is built under a new name, then the old one is dropped and the new one renamed:
reads go on while they are built, and writes to audit_events wait (plain CREATE INDEX).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
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
    """Build the index anew under a temporary name, then put it in place of the old one."""
    building = f"{name}_new"
    op.create_index(
        building,
        "audit_events",
        columns,
        postgresql_using=method,
        postgresql_where=sa.text(where) if where else None,
    )
    op.drop_index(name, table_name="audit_events")
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade() -> None:
    for name, (columns, method) in INDEXES.items():
        _replace(name, columns, method, CHAINED)


def downgrade() -> None:
    for name, (columns, method) in INDEXES.items():
        _replace(name, columns, method, None)
