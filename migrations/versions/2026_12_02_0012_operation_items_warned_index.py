"""An operation's warned items get a partial index: (operation_id, seq) WHERE warning_code IS
NOT NULL.

`GET /v1/operations/{id}` lists an operation's first warnings (`WHERE operation_id = X AND
warning_code IS NOT NULL ORDER BY seq LIMIT 1000`), and the executor counts them when the
operation finishes. No index served that condition, so each read went through every item of
the operation: 81 ms p50 (86 ms of PostgreSQL CPU) for one GET of a 100,000-device operation
(bench/many_devices.py, docs/benchmarks.md), paid on every poll while it ran. Warnings are rare,
so the index is small and its lookups read a few entries.

Plain CREATE INDEX: writes to operation_items wait while it runs (a full scan of the table).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_operation_items_warned",
        "operation_items",
        ["operation_id", "seq"],
        postgresql_where=sa.text("warning_code IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_operation_items_warned", table_name="operation_items")
