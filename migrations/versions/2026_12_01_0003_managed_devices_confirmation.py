"""Managed devices (what the service enrolled), operation confirmation, releases, rollout end.

- managed_devices: the devices the service enrolled per update category (held / released).
- operations.rollout_id nullable: a release asked for outside a rollout belongs to none.
- operations.confirming_since: when the wait for Graph to show the accepted changes began.
- operation_items.warning_code / warning_message: succeeded, but not fully confirmed in time.
- rollouts.ended_at: when the rollout was archived or deleted through the service.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rollouts", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.alter_column("operations", "rollout_id", existing_type=sa.UUID(), nullable=True)
    op.add_column(
        "operations", sa.Column("confirming_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("operation_items", sa.Column("warning_code", sa.String(length=64), nullable=True))
    op.add_column("operation_items", sa.Column("warning_message", sa.Text(), nullable=True))
    op.create_table(
        "managed_devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "enrolled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("enrolled_by_operation", sa.UUID(), nullable=True),
        sa.Column("last_rollout_id", sa.UUID(), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_managed_devices_last_rollout_id_rollouts"),
        ),
        sa.PrimaryKeyConstraint("device_id", "category", name=op.f("pk_managed_devices")),
    )


def downgrade() -> None:
    op.drop_table("managed_devices")
    op.drop_column("operation_items", "warning_message")
    op.drop_column("operation_items", "warning_code")
    op.drop_column("operations", "confirming_since")
    op.execute(
        "DELETE FROM operation_items WHERE operation_id IN"
        " (SELECT id FROM operations WHERE rollout_id IS NULL)"
    )
    op.execute("DELETE FROM operations WHERE rollout_id IS NULL")
    op.alter_column("operations", "rollout_id", existing_type=sa.UUID(), nullable=False)
    op.drop_column("rollouts", "ended_at")
