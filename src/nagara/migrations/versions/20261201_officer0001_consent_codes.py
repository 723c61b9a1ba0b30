"""consent codes: a one-time code's purpose, what it consents to and which operator asked

Revision ID: officer0001
Revises: certificates0001
Create Date: 2026-12-01 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "officer0001"
down_revision: str | None = "certificates0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("otp_challenges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=16), server_default="sign_in", nullable=False))
        batch_op.add_column(sa.Column("consent_for", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("requested_by_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("otp_challenges", schema=None) as batch_op:
        batch_op.drop_column("requested_by_id")
        batch_op.drop_column("consent_for")
        batch_op.drop_column("purpose")
