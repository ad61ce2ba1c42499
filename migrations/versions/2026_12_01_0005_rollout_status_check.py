"""CHECK constraints on the status-like columns: a value outside the lifecycle is refused.

- rollouts.status: creating, active, failed, deleted (app/rollouts/status.py).
- operations.status, operation_items.status, operation_items.change (app/operations/models.py).
- managed_devices.status (app/devices/models.py).

The values are written out here (a migration is a snapshot); the models declare the same.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rollouts", "status", ("creating", "active", "failed", "deleted")),
    ("operations", "status", ("queued", "running", "succeeded", "partiallySucceeded", "failed")),
    ("operation_items", "status", ("pending", "sent", "succeeded", "failed")),
    (
        "operation_items",
        "change",
        ("addMember", "removeMember", "addExclusion", "removeExclusion", "unenroll"),
    ),
    ("managed_devices", "status", ("enrolled", "released")),
)


def upgrade() -> None:
    for table, column, values in CHECKS:
        allowed = ", ".join(f"'{value}'" for value in values)
        op.create_check_constraint(op.f(f"ck_{table}_{column}"), table, f"{column} IN ({allowed})")


def downgrade() -> None:
    for table, column, _ in reversed(CHECKS):
        op.drop_constraint(op.f(f"ck_{table}_{column}"), table, type_="check")
