"""States, districts, local bodies, wards and the roles a pack defines.

Tenant codes: a state is ``kl``; a local body ``kl.tvm-corp``; a ward
``kl.tvm-corp.w12``. Every key carries its state so the schema can be sharded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, utcnow

LOCAL_BODY_TYPES = (
    "corporation",
    "municipality",
    "town_panchayat",
    "grama_panchayat",
    "block_panchayat",
    "district_panchayat",
)


class State(Base):
    __tablename__ = "states"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    lgd_code: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    ledger_origin: Mapped[str | None] = mapped_column(String(200))
    defaults: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    calendar: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The pack's notifications.yaml (templates per event, SMS sender, quiet hours): the notifications domain reads it.
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    pack_digest: Mapped[str] = mapped_column(String(64))
    pack_source: Mapped[str | None] = mapped_column(String(500))  # the folder the loaded pack was read from
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.code


class District(Base):
    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), index=True)
    lgd_code: Mapped[int] = mapped_column(Integer)
    name: Mapped[dict[str, str]] = mapped_column(JSON)

    @property
    def audit_tenant(self) -> str:
        return self.state_code


class LocalBody(Base):
    __tablename__ = "local_bodies"
    __table_args__ = (UniqueConstraint("state_code", "lgd_code"),)

    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    lgd_code: Mapped[int | None] = mapped_column(Integer)  # None until the LGD code is assigned or confirmed
    type: Mapped[str] = mapped_column(String(32))
    local_type_name: Mapped[dict[str, str] | None] = mapped_column(JSON)
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    parent_code: Mapped[str | None] = mapped_column(String(80))
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def audit_tenant(self) -> str:
        return self.code


class Ward(Base):
    __tablename__ = "wards"
    __table_args__ = (UniqueConstraint("local_body_code", "number"),)

    code: Mapped[str] = mapped_column(String(96), primary_key=True)
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[dict[str, str]] = mapped_column(JSON)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class Role(Base):
    __tablename__ = "roles"

    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(String(16))  # state | local_body | ward | self
    permissions: Mapped[list[str]] = mapped_column(JSON)

    @property
    def audit_tenant(self) -> str:
        return self.state_code
