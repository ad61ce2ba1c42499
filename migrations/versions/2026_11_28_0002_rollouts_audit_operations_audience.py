"""Rollouts, audit events, operations and their items, audience devices.

Audit events are append-only: a trigger refuses UPDATE and DELETE on them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rollout_id", sa.UUID(), nullable=True),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.Column("intent_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("graph_request_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("device_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index(op.f("ix_audit_events_actor"), "audit_events", ["actor"], unique=False)
    op.create_index("ix_audit_events_at", "audit_events", ["at"], unique=False)
    op.create_index(
        "ix_audit_events_device_ids",
        "audit_events",
        ["device_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_audit_events_rollout_id"), "audit_events", ["rollout_id"], unique=False
    )
    op.create_index(op.f("ix_audit_events_ticket"), "audit_events", ["ticket"], unique=False)
    op.create_table(
        "rollouts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("graph_deployment_id", sa.String(length=64), nullable=True),
        sa.Column("graph_audience_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ticket", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("update_kind", sa.String(length=16), nullable=False),
        sa.Column("catalog_entry_id", sa.String(length=128), nullable=False),
        sa.Column("update_version", sa.Text(), nullable=True),
        sa.Column("update_display_name", sa.Text(), nullable=True),
        sa.Column("build_number", sa.String(length=32), nullable=True),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("graph_state", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
        sa.UniqueConstraint("graph_audience_id", name=op.f("uq_rollouts_graph_audience_id")),
        sa.UniqueConstraint("graph_deployment_id", name=op.f("uq_rollouts_graph_deployment_id")),
    )
    op.create_index(op.f("ix_rollouts_ticket"), "rollouts", ["ticket"], unique=False)
    op.create_index("ix_rollouts_created_at_id", "rollouts", ["created_at", "id"], unique=False)
    op.create_index(
        op.f("ix_rollouts_update_version"), "rollouts", ["update_version"], unique=False
    )
    op.create_table(
        "audience_devices",
        sa.Column("rollout_id", sa.UUID(), nullable=False),
        sa.Column("membership", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=True),
        sa.Column(
            "confirmed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"], ["rollouts.id"], name=op.f("fk_audience_devices_rollout_id_rollouts")
        ),
        sa.PrimaryKeyConstraint(
            "rollout_id", "membership", "device_id", name=op.f("pk_audience_devices")
        ),
    )
    op.create_index(
        op.f("ix_audience_devices_device_id"), "audience_devices", ["device_id"], unique=False
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("rollout_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ticket", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("update_category", sa.String(length=16), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["rollout_id"], ["rollouts.id"], name=op.f("fk_operations_rollout_id_rollouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    op.create_index(op.f("ix_operations_rollout_id"), "operations", ["rollout_id"], unique=False)
    op.create_index(op.f("ix_operations_status"), "operations", ["status"], unique=False)
    op.create_table(
        "operation_items",
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("graph_request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            name=op.f("fk_operation_items_operation_id_operations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operation_id", "seq", name=op.f("pk_operation_items")),
    )
    op.create_index("ix_operation_items_device_id", "operation_items", ["device_id"], unique=False)
    op.create_index(
        "ix_operation_items_pending",
        "operation_items",
        ["operation_id", "status", "seq"],
        unique=False,
    )

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events"
        " FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
    op.drop_index("ix_rollouts_created_at_id", table_name="rollouts")
    op.drop_index("ix_operation_items_pending", table_name="operation_items")
    op.drop_index("ix_operation_items_device_id", table_name="operation_items")
    op.drop_table("operation_items")
    op.drop_index(op.f("ix_operations_status"), table_name="operations")
    op.drop_index(op.f("ix_operations_rollout_id"), table_name="operations")
    op.drop_table("operations")
    op.drop_index(op.f("ix_audience_devices_device_id"), table_name="audience_devices")
    op.drop_table("audience_devices")
    op.drop_index(op.f("ix_rollouts_update_version"), table_name="rollouts")
    op.drop_index(op.f("ix_rollouts_ticket"), table_name="rollouts")
    op.drop_table("rollouts")
    op.drop_index(op.f("ix_audit_events_ticket"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_rollout_id"), table_name="audit_events")
    op.drop_index("ix_audit_events_device_ids", table_name="audit_events", postgresql_using="gin")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_table("audit_events")
