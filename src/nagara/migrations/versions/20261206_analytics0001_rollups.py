"""analytics rollups: counts per day and place, each case's contribution, the fold's cursor

The cursor starts at 0, so the fold job reads the whole ledger once; ``nagara analytics
rebuild`` does the same faster on a large node.

Revision ID: analytics0001
Revises: catalog0002
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics0001"
down_revision: str | None = "catalog0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_counts",
        sa.Column("local_body_code", sa.String(length=80), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ward_code", sa.String(length=96), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("measure", sa.String(length=96), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("state_code", sa.String(length=8), nullable=False),
        sa.Column("district_code", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "local_body_code", "day", "ward_code", "subject", "channel", "measure", "bucket", name=op.f("pk_analytics_counts")
        ),
    )
    op.create_index("ix_analytics_counts_state_day", "analytics_counts", ["state_code", "day"], unique=False)
    op.create_index("ix_analytics_counts_district_day", "analytics_counts", ["district_code", "day"], unique=False)
    op.create_table(
        "analytics_facts",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("local_body_code", sa.String(length=80), nullable=False),
        sa.Column("contributions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_analytics_facts")),
    )
    op.create_table(
        "analytics_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_cursors")),
    )


def downgrade() -> None:
    op.drop_table("analytics_cursors")
    op.drop_table("analytics_facts")
    op.drop_index("ix_analytics_counts_district_day", table_name="analytics_counts")
    op.drop_index("ix_analytics_counts_state_day", table_name="analytics_counts")
    op.drop_table("analytics_counts")
