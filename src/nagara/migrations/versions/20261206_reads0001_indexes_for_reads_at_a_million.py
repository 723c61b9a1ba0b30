"""indexes that keep the officer's reads fast at a million applications

Search by the beginning of a number (PostgreSQL: ``varchar_pattern_ops``, as the database's
collation orders no prefix; SQLite's unique index on the number serves the same range), the
newest applications of a local body, a state or an operator, and the open work that falls due
(partial: the open applications only).

Revision ID: reads0001
Revises: migration0002
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reads0001"
down_revision: str | None = "migration0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_applications_number_prefix", "applications", ["number"], postgresql_ops={"number": "varchar_pattern_ops"}
        )
    op.create_index("ix_applications_body_created", "applications", ["local_body_code", "created_at"])
    op.create_index("ix_applications_state_created", "applications", ["state_code", "created_at"])
    op.create_index("ix_applications_filed_by", "applications", ["filed_by_id", "created_at"])
    op.create_index(
        "ix_applications_open_due",
        "applications",
        ["local_body_code", "state_due_at"],
        postgresql_where=sa.text("is_open IS true"),
        sqlite_where=sa.text("is_open IS 1"),
    )


def downgrade() -> None:
    op.drop_index("ix_applications_open_due", table_name="applications")
    op.drop_index("ix_applications_filed_by", table_name="applications")
    op.drop_index("ix_applications_state_created", table_name="applications")
    op.drop_index("ix_applications_body_created", table_name="applications")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_applications_number_prefix", table_name="applications")
