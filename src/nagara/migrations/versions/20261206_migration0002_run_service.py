"""migration runs name the service their records are issued through (a state's birth register may be
issued as birth-registration in one pack and birth-certificate in another)

Revision ID: migration0002
Revises: analytics0002
Create Date: 2026-12-06 03:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "migration0002"
down_revision: str | None = "analytics0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("migration_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("migration_runs", schema=None) as batch_op:
        batch_op.drop_column("service_code")
