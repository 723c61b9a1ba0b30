"""limits counted atomically in throttles; an authenticator code is accepted once

Sign-in limits were read, changed and written back (``users.failed_logins``,
``users.locked_until``; codes counted per hour), so parallel requests passed them. Every limit is
now a counter row in ``throttles`` changed by one atomic upsert (``kit.limits``), keyed by what
it limits (a username from an address, a username, a mobile number, an address). The user's
last accepted authenticator time step refuses a code used before.

Revision ID: identity0002
Revises: workflow0001
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nagara.kit.db

revision: str = "identity0002"
down_revision: str | None = "identity0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("resets_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttles")),
    )
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_throttles_resets_at"), ["resets_at"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", nagara.kit.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_column("totp_last_step")
    with op.batch_alter_table("throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttles_resets_at"))
    op.drop_table("throttles")
