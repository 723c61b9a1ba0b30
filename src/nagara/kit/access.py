"""Deny-by-default authorisation.

A :class:`Principal` carries the grants of the caller: each a role held in a
state and optionally narrowed to a local body, a ward or a section, with the
permissions that role has. Services call :func:`require` before acting and
:func:`scope` to restrict every query to the caller's jurisdiction: it is the one
place that turns grants into a WHERE clause (``tests/kit/test_access.py`` fails
when a module elsewhere reads where a grant is held).
"""

from __future__ import annotations

from collections.abc import Iterable
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

    @property
    def place(self) -> str:
        """The code of the place the grant covers: its state, local body or ward.

        Codes nest (``kl``, ``kl.tvm-corp``, ``kl.tvm-corp.w12``), so a place covers
        every code that starts with it and a dot.
        """
        if self.scope == "state":
            return self.state_code
        if self.ward_code is not None:
            return self.ward_code
        return self.local_body_code if self.local_body_code is not None else self.state_code


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


ColumnAttr = InstrumentedAttribute[str] | InstrumentedAttribute[str | None]


def scope(
    principal: Principal,
    permission: str | Iterable[str],
    *,
    state_col: ColumnAttr | None = None,
    local_body_col: ColumnAttr | None = None,
    ward_col: ColumnAttr | None = None,
    place_col: ColumnAttr | None = None,
    owner_col: ColumnAttr | None = None,
    role_col: ColumnAttr | None = None,
    assignee_col: ColumnAttr | None = None,
    unless: str | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause limiting rows to those the principal may ``permission``; false when none.

    ``permission``: one permission, or several of which any will do. Each grant that has
    it reaches the rows of its place, given by the table's columns:

    - ``state_col`` (and ``local_body_col``, ``ward_col``): a grant narrowed to a local body
      or ward reaches no row of a table that lacks that column (deny by default);
    - or ``place_col``, one column holding a place's code (``kl``, ``kl.tvm-corp``): the
      grant reaches its :attr:`Grant.place` and every place within it;
    - ``owner_col``: a grant held over one's own records (scope ``self``) reaches the rows
      whose owner is the principal (otherwise such grants reach nothing);
    - ``role_col``: only rows held by the grant's role ("work of a role I hold, where I
      hold it"), and with ``assignee_col`` only those unassigned (the role's pool) or
      assigned to the principal.

    ``unless``: grants that also hold this permission are left out, for a clause ORed with
    that permission's own scope (which already reaches every row of their place): the
    WHERE clause then names fewer columns, and an index can serve it.
    """
    if (state_col is None) == (place_col is None):
        raise TypeError("scope() needs either state_col or place_col")
    wanted = frozenset((permission,) if isinstance(permission, str) else permission)
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if not wanted & g.permissions or (unless is not None and unless in g.permissions):
            continue
        if g.scope == "self":
            if owner_col is not None:
                clauses.append(owner_col == principal.user_id)
            continue
        clause = _place_clause(g, state_col, local_body_col, ward_col, place_col)
        if clause is None:
            continue
        if role_col is not None:
            clause = clause & (role_col == g.role)
        clauses.append(clause)
    if not clauses:
        return false()
    where = or_(*clauses) if len(clauses) > 1 else clauses[0] & true()
    if assignee_col is not None:
        where = where & or_(assignee_col.is_(None), assignee_col == principal.user_id)
    return where


def _place_clause(
    g: Grant,
    state_col: ColumnAttr | None,
    local_body_col: ColumnAttr | None,
    ward_col: ColumnAttr | None,
    place_col: ColumnAttr | None,
) -> ColumnElement[bool] | None:
    """Rows in the grant's place, or None when the table cannot say (a narrower grant than its columns)."""
    if place_col is not None:
        return (place_col == g.place) | place_col.startswith(g.place + ".", autoescape=True)
    if state_col is None:
        return None
    clause: ColumnElement[bool] = state_col == g.state_code
    if g.scope == "state":
        return clause
    if g.local_body_code is not None:
        if local_body_col is None:
            return None
        clause = clause & (local_body_col == g.local_body_code)
    if g.ward_code is not None:
        if ward_col is None:
            return None
        clause = clause & (ward_col == g.ward_code)
    return clause
