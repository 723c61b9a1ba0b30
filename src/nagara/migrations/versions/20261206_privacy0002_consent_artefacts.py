"""consent artefacts: signed, their hashes on the ledger

Revision ID: privacy0002
Revises: notifications0001
Create Date: 2026-12-06 04:25:19
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nagara.kit.db

revision: str = "privacy0002"
down_revision: str | None = "notifications0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_consents",
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("state_code", sa.String(length=8), nullable=False),
        sa.Column("fiduciary", sa.String(length=96), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("valid_from", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("given_via", sa.String(length=16), nullable=False),
        sa.Column("artefact", sa.JSON(), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_via", sa.String(length=16), nullable=True),
        sa.Column("withdrawal", sa.JSON(), nullable=True),
        sa.Column("withdrawal_signed", sa.Text(), nullable=True),
        sa.Column("withdrawal_sha256", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["users.id"], name=op.f("fk_privacy_consents_principal_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_consents")),
    )
    with op.batch_alter_table("privacy_consents", schema=None) as batch_op:
        batch_op.create_index("ix_privacy_consents_principal", ["principal_id", "created_at"], unique=False)
        batch_op.create_index("ix_privacy_consents_source", ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("privacy_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_consents_source")
        batch_op.drop_index("ix_privacy_consents_principal")

    op.drop_table("privacy_consents")
