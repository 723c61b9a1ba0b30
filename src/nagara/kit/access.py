"""Deny-by-default authorisation.

A :class:`Principal` carries the grants of the caller: each a role held in a
state and optionally narrowed to a local body, a ward or a section, with the
permissions that role has. Services call :func:`require` before acting and
:func:`scope` to restrict every query to the caller's jurisdiction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from nagara.kit.errors import Forbidden


@dataclass(frozen=True)
class Grant:
    role: str
    scope: str  # self | state | local_body | ward
    state_code: str
    local_body_code: str | None
    ward_code: str | None
    section: str | None
    permissions: frozenset[str]

    def covers(self, state_code: str | None, local_body_code: str | None, ward_code: str | None) -> bool:
        """Whether a record in this place falls within the grant's jurisdiction."""
        if state_code != self.state_code:
            return False
        if self.scope == "state":
            return True
        if self.local_body_code is not None and local_body_code != self.local_body_code:
            return False
        return self.ward_code is None or ward_code == self.ward_code


@dataclass(frozen=True)
class Principal:
    user_id: str
    kind: str  # citizen | officer | partner
    state_code: str | None
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    token_kind: str = "bearer"

    def permissions(self) -> frozenset[str]:
        return frozenset(p for g in self.grants for p in g.permissions)

    def has(self, permission: str) -> bool:
        return any(permission in g.permissions for g in self.grants)

    def may(
        self, permission: str, *, state_code: str | None, local_body_code: str | None = None, ward_code: str | None = None
    ) -> bool:
        return any(
            permission in g.permissions and g.scope != "self" and g.covers(state_code, local_body_code, ward_code)
            for g in self.grants
        )


def require(
    principal: Principal,
    permission: str,
    *,
    state_code: str | None = None,
    local_body_code: str | None = None,
    ward_code: str | None = None,
    owner_id: str | None = None,
) -> None:
    """Raise :class:`Forbidden` unless the principal may do ``permission`` on this record.

    A record is reachable through a jurisdiction grant that covers its place, or,
    whatever the grant's scope, when the principal owns it.
    """
    for g in principal.grants:
        if permission not in g.permissions:
            continue
        if owner_id is not None and owner_id == principal.user_id:
            return
        if g.scope == "self":
            continue
        if state_code is None and local_body_code is None:
            continue
        if g.covers(state_code, local_body_code, ward_code):
            return
    raise Forbidden(f"you do not hold {permission!r} for this record")


def require_any(principal: Principal, permission: str) -> None:
    """The principal holds ``permission`` somewhere; listing endpoints then use :func:`scope`."""
    if not principal.has(permission):
        raise Forbidden(f"none of your roles grants {permission!r}")


def scope(
    principal: Principal,
    permission: str,
    *,
    state_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    local_body_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None = None,
    ward_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None = None,
    owner_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause limiting rows to those the principal may ``permission``; false when none."""
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if permission not in g.permissions:
            continue
        if g.scope == "self":
            if owner_col is not None:
                clauses.append(owner_col == principal.user_id)
            continue
        clause: ColumnElement[bool] = state_col == g.state_code
        if g.scope != "state":
            if g.local_body_code is not None:
                if local_body_col is None:
                    continue
                clause = clause & (local_body_col == g.local_body_code)
            if g.ward_code is not None:
                if ward_col is None:
                    continue
                clause = clause & (ward_col == g.ward_code)
        clauses.append(clause)
    if not clauses:
        return false()
    return or_(*clauses) if len(clauses) > 1 else clauses[0] & true()
