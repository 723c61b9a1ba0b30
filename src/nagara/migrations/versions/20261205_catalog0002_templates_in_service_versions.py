"""certificate templates stored with the service versions; where a pack was last loaded from

A certificate was printed from ``packs/<state>/certificates/<type>.yaml`` read from disk when it
was issued (falling back to ``certificate.yaml``), not from the pack as loaded. Each service
version now keeps the template of its output type and the pack's layout, read and validated
when the pack is loaded. Versions loaded before this revision get theirs at the next
``nagara pack load`` (the template of their output type in that pack). ``states.pack_source``
is the folder the loaded pack came from.

Revision ID: catalog0002
Revises: identity0002
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "catalog0002"
down_revision: str | None = "identity0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("certificate_template", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("certificate_layout", sa.Text(), nullable=True))
    with op.batch_alter_table("states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pack_source", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("states", schema=None) as batch_op:
        batch_op.drop_column("pack_source")
    with op.batch_alter_table("service_versions", schema=None) as batch_op:
        batch_op.drop_column("certificate_layout")
        batch_op.drop_column("certificate_template")
