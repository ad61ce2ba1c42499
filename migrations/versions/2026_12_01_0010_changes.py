"""Changes: requests held for a second person's approval (APPROVALS), and their outcome.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'pendingApproval', 'approved', 'applied', 'failed', 'rejected', 'expired'"
ACTIONS = "'create', 'patch', 'pause', 'resume', 'archive', 'delete', 'audience', 'release'"


def upgrade() -> None:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.create_table(
        "changes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("rollout_id", sa.UUID(), nullable=True),
        sa.Column("request", jsonb, nullable=False),
        sa.Column("plan", jsonb, nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requester_role", sa.String(length=16), nullable=False),
        sa.Column("requester_via", sa.String(length=16), nullable=False),
        sa.Column("ticket", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("result", jsonb, nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_changes_status")),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name=op.f("ck_changes_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    op.create_index("ix_changes_status_created", "changes", ["status", "created_at"])
    op.create_index("ix_changes_created", "changes", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_changes_created", table_name="changes")
    op.drop_index("ix_changes_status_created", table_name="changes")
    op.drop_table("changes")
