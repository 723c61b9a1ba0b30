"""analytics: the counts summed per district, for the state's dashboard

Filled by the fold from now on; ``nagara analytics rebuild`` fills it for what was folded before.

Revision ID: analytics0002
Revises: grievances0001
Create Date: 2026-12-06 03:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics0002"
down_revision: str | None = "grievances0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_district_counts",
        sa.Column("district_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=96), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("state_code", sa.String(length=8), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "district_code", "day", "subject", "measure", "bucket", name=op.f("pk_analytics_district_counts")
        ),
    )
    op.create_index("ix_analytics_district_counts_state_day", "analytics_district_counts", ["state_code", "day"], unique=False)
    # What was folded before this revision, summed (a rebuild gives the same).
    op.execute(
        "INSERT INTO analytics_district_counts (district_code, day, subject, measure, bucket, state_code, value) "
        "SELECT district_code, day, subject, measure, bucket, min(state_code), sum(value) FROM analytics_counts "
        "GROUP BY district_code, day, subject, measure, bucket HAVING sum(value) <> 0"
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_district_counts_state_day", table_name="analytics_district_counts")
    op.drop_table("analytics_district_counts")
