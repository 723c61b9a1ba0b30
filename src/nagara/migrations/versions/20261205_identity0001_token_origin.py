"""token origin: whether a credential came from a sign-in, was minted, or was issued by the operator

Revision ID: identity0001
Revises: workflow0001
Create Date: 2026-12-05 07:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity0001"
down_revision: str | None = "workflow0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Credentials issued before this revision have no origin: they cannot mint tokens (sign in again).
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_column("origin")
