"""keyed hashes of the names and mobile numbers on applications, to search the sealed forms

Applications submitted before this revision have no terms until their form is sealed again;
``nagara applications reindex`` writes them for every application.

Revision ID: search0001
Revises: workflow0001
Create Date: 2026-12-05 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "search0001"
down_revision: str | None = "workflow0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "application_search_terms",
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_search_terms_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", "digest", name=op.f("pk_application_search_terms")),
    )
    op.create_index("ix_application_search_terms_digest", "application_search_terms", ["digest"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_application_search_terms_digest", table_name="application_search_terms")
    op.drop_table("application_search_terms")
