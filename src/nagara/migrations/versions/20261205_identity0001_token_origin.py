"""token origin: whether a credential came from a sign-in, was minted, or was issued by the operator

Revision ID: identity0001
Revises: workflow0001
Create Date: 2026-12-05 07:05:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "identity0001"
down_revision: str | None = "search0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Credentials issued before this revision have no origin: they cannot mint tokens (sign in again).
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=True))
    # API keys used to live forever: those in use now expire after the default NAGARA_API_KEY_TTL_DAYS
    # (90), counted from this upgrade, so partners have that long to take a new key (`nagara users api-key`).
    tokens = sa.table(
        "auth_tokens",
        sa.column("kind", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        tokens.update()
        .where(tokens.c.kind == "api_key", tokens.c.expires_at.is_(None), tokens.c.revoked_at.is_(None))
        .values(expires_at=datetime.now(UTC) + timedelta(days=90))
    )


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_column("origin")
