"""the case counts its own history steps and breaches

An action numbered its history entry with ``max(seq)`` over the application's history, one
more query per step; the tracking page queried breaches that most applications never have.
The application row now carries both counts, kept under its own version check.

Revision ID: workflow0001
Revises: officer0001
Create Date: 2026-12-04 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "workflow0001"
down_revision: str | None = "officer0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("breach_count", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE applications SET "
        "last_seq = (SELECT COALESCE(MAX(h.seq), 0) FROM application_history h WHERE h.application_id = applications.id), "
        "breach_count = (SELECT COUNT(*) FROM sla_breaches b WHERE b.application_id = applications.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("breach_count")
        batch_op.drop_column("last_seq")
