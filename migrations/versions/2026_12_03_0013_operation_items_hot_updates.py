"""An item's status changes become HOT updates: no index of operation_items holds `status`, and
its pages are left half empty (fillfactor 50).

Every item is updated twice (sent, then succeeded or failed). `ix_operation_items_pending`
(operation_id, status, seq) held the status, so each of those updates wrote a new entry in every
index of the table (the primary key, device_id, pending): at 10,000 devices the two UPDATEs cost
PostgreSQL about 300 ms. With no index on the status and room on the page for the new version,
PostgreSQL updates the row in place of its page (heap-only tuple) and touches no index: about
130 ms for the same work (measured on the same machine, docs/benchmarks.md).

What the pending index served is served otherwise:
- an operation's items in one status (`load`, `mark`, abandoning), and the counts by status: the
  primary key (operation_id, seq), which these read in full or by a seq range anyway;
- the failed items listed by `GET /v1/operations/{id}` on every poll: a new partial index
  (operation_id, seq) WHERE error_code IS NOT NULL, like the warned items' (0012). A partial
  index on `status = 'failed'` would hold the status in its condition and stop HOT updates just
  the same. A CHECK makes "failed" and "has an error code" the same thing, which every writer
  already does (the query names both).

fillfactor applies to pages written from now on; existing pages keep theirs. The CHECK is added
NOT VALID then validated (a scan that lets writes go on); the index is a plain CREATE INDEX
(writes to operation_items wait while it scans the table).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_operation_items_failed_has_error"


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE operation_items ADD CONSTRAINT {CHECK}"
        " CHECK ((status = 'failed') = (error_code IS NOT NULL)) NOT VALID"
    )
    op.execute(f"ALTER TABLE operation_items VALIDATE CONSTRAINT {CHECK}")
    op.create_index(
        "ix_operation_items_failed",
        "operation_items",
        ["operation_id", "seq"],
        postgresql_where=sa.text("error_code IS NOT NULL"),
    )
    op.drop_index("ix_operation_items_pending", table_name="operation_items")
    op.execute("ALTER TABLE operation_items SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE operation_items RESET (fillfactor)")
    op.create_index(
        "ix_operation_items_pending", "operation_items", ["operation_id", "status", "seq"]
    )
    op.drop_index("ix_operation_items_failed", table_name="operation_items")
    op.drop_constraint(op.f(CHECK), "operation_items", type_="check")
