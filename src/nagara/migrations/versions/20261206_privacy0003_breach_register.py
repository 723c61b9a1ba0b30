"""the register of personal data breaches and the people each affected (DPDP Rules 2025, Rule 7)

Revision ID: privacy0003
Revises: notifications0002
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import nagara.kit.db

revision: str = "privacy0003"
down_revision: str | None = "notifications0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_breaches",
        sa.Column("state_code", sa.String(length=8), nullable=False),
        sa.Column("local_body_code", sa.String(length=96), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("discovered_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("people_categories", sa.JSON(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("consequences", sa.Text(), nullable=False),
        sa.Column("safety_steps", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=36), nullable=False),
        sa.Column("board_report_due_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cert_in_due_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("board_intimated_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cert_in_reported_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("principals_notified_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("report_submitted_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_breaches")),
    )
    with op.batch_alter_table("privacy_breaches", schema=None) as batch_op:
        batch_op.create_index("ix_privacy_breaches_state", ["state_code", "discovered_at"], unique=False)

    op.create_table(
        "privacy_breach_people",
        sa.Column("breach_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("notified_at", nagara.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"],
            ["privacy_breaches.id"],
            name=op.f("fk_privacy_breach_people_breach_id_privacy_breaches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_privacy_breach_people_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_breach_people")),
        sa.UniqueConstraint("breach_id", "user_id", name="uq_privacy_breach_people"),
    )


def downgrade() -> None:
    op.drop_table("privacy_breach_people")
    with op.batch_alter_table("privacy_breaches", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_breaches_state")

    op.drop_table("privacy_breaches")
