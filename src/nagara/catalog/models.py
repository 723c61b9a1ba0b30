from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, utcnow


class ServiceVersion(Base):
    """One version of a service definition as a pack defined it; applications keep the version they began with.

    The version carries what its output is printed from, as the pack was loaded: the template
    ``certificates/<output type>.yaml`` and the pack's ``certificates/layout.html`` (or none).
    A change to either is a new version, like a change to the definition.
    """

    __tablename__ = "service_versions"
    __table_args__ = (UniqueConstraint("state_code", "code", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    certificate_template: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: the service has no output
    certificate_layout: Mapped[str | None] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.state_code
