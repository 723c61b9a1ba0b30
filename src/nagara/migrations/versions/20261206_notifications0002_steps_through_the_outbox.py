"""notifications: steps reach people through the outbox (a job in the step's transaction), not a scan
of the history by time: the scan's cursor and its seen marks go

Revision ID: notifications0002
Revises: grievances0003
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nagara.kit.db

revision: str = "notifications0002"
down_revision: str | None = "grievances0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_steps_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_steps_seen_seen_at"))
    op.drop_table("notification_steps_seen")
    op.drop_table("notification_scan")


def downgrade() -> None:
    op.create_table(
        "notification_scan",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("scanned_to", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_scan")),
    )
    op.create_table(
        "notification_steps_seen",
        sa.Column("history_id", sa.String(length=36), nullable=False),
        sa.Column("seen_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("history_id", name=op.f("pk_notification_steps_seen")),
    )
    with op.batch_alter_table("notification_steps_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_steps_seen_seen_at"), ["seen_at"], unique=False)
