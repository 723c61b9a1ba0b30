"""the access log: who read whose personal data, in what role, for what purpose (DPDP Act 2023)

Revision ID: privacy0001
Revises: exchange0001
Create Date: 2026-12-06 02:04:28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nagara.kit.db

revision: str = "privacy0001"
down_revision: str | None = "exchange0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("viewer_id", sa.String(length=36), nullable=False),
        sa.Column("viewer_kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("state_code", sa.String(length=32), nullable=False),
        sa.Column("local_body_code", sa.String(length=96), nullable=True),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_ref", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=96), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_viewer_id"), ["viewer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_viewer_id"))
        batch_op.drop_index(batch_op.f("ix_access_log_subject_id"))
        batch_op.drop_index(batch_op.f("ix_access_log_at"))
    op.drop_table("access_log")
