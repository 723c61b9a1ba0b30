"""``scope()``: the one builder of jurisdiction clauses, checked against rows on the test engine.

Each test makes a small table of its own inside the test's rolled-back transaction, so the
clauses run on SQLite and PostgreSQL as the services' queries do.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, String, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from nagara.kit.access import Grant, Principal, scope
from nagara.runtime import Runtime

SRC = Path(__file__).resolve().parents[2] / "src" / "nagara"


class Base(DeclarativeBase):
    pass


class Row(Base):
    """A record somewhere: its place in columns and as one code, its owner and who holds it."""

    __tablename__ = "scope_test_rows"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state_code: Mapped[str] = mapped_column(String(8))
    local_body_code: Mapped[str | None] = mapped_column(String(32))
    ward_code: Mapped[str | None] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[str] = mapped_column(String(8))
    role: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(String(8))


ROWS = [
    # id, state, local body, ward, place, owner, held by role, assigned to
    (1, "kl", "kl.a", None, "kl.a", "u1", "clerk", None),
    (2, "kl", "kl.a", "kl.a.w1", "kl.a.w1", "u2", "clerk", "u1"),
    (3, "kl", "kl.a", None, "kl.a", "u2", "clerk", "u2"),
    (4, "kl", "kl.b", None, "kl.b", "u2", "officer", None),
    (5, "ka", "ka.c", None, "ka.c", "u1", "clerk", None),
    (6, "kl", None, None, "kl", "u2", None, None),
    (7, "kl", "kl.aXb", "kl.aXb.w1", "kl.aXb.w1", "u2", None, None),  # matches 'kl.a_b.%' if _ were a wildcard
    (8, "kla", "kla.d", None, "kla", "u2", None, None),  # a state whose code starts with another's
]
COLUMNS = ("id", "state_code", "local_body_code", "ward_code", "place", "owner_id", "role", "assignee_id")


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.db.unit_of_work() as s:
        Base.metadata.create_all(s.connection())
        s.execute(insert(Row), [dict(zip(COLUMNS, r, strict=True)) for r in ROWS])
        yield s


def grant(
    scope_: str = "local_body",
    state: str = "kl",
    body: str | None = "kl.a",
    ward: str | None = None,
    *,
    role: str = "clerk",
    permissions: tuple[str, ...] = ("x:read",),
) -> Grant:
    return Grant(role, scope_, state, body, ward, None, frozenset(permissions))


STATE = grant("state", body=None, role="officer")
BODY = grant()
WARD = grant("ward", ward="kl.a.w1")


def who(*grants: Grant, user: str = "u1") -> Principal:
    return Principal(user_id=user, kind="officer", state_code="kl", grants=grants)


def ids(session: Session, clause: ColumnElement[bool]) -> set[int]:
    return set(session.scalars(select(Row.id).where(clause)))


def columns(principal: Principal, permission: str | tuple[str, ...] = "x:read") -> ColumnElement[bool]:
    return scope(
        principal,
        permission,
        state_col=Row.state_code,
        local_body_col=Row.local_body_code,
        ward_col=Row.ward_code,
        owner_col=Row.owner_id,
    )


def test_each_grant_reaches_the_rows_of_its_place(session: Session) -> None:
    assert ids(session, columns(who(STATE))) == {1, 2, 3, 4, 6, 7}
    assert ids(session, columns(who(BODY))) == {1, 2, 3}
    assert ids(session, columns(who(WARD))) == {2}
    assert ids(session, columns(who(BODY, grant(body="kl.b")))) == {1, 2, 3, 4}
    assert ids(session, columns(who())) == set()


def test_a_grant_narrower_than_the_table_reaches_nothing(session: Session) -> None:
    """A table without a ward column cannot say which rows are in the ward: deny."""
    no_ward = scope(who(WARD), "x:read", state_col=Row.state_code, local_body_col=Row.local_body_code)
    assert ids(session, no_ward) == set()
    no_body = scope(who(BODY, STATE), "x:read", state_col=Row.state_code)
    assert ids(session, no_body) == {1, 2, 3, 4, 6, 7}  # the state-wide grant still reaches its state


def test_one_of_several_permissions_will_do(session: Session) -> None:
    decides = grant(permissions=("x:decide",))
    assert ids(session, columns(who(decides))) == set()
    assert ids(session, columns(who(decides), ("x:read", "x:decide"))) == {1, 2, 3}
    assert ids(session, columns(who(BODY, decides), ("x:read", "x:decide"))) == {1, 2, 3}


def test_own_records_through_a_self_grant_only_with_an_owner_column(session: Session) -> None:
    citizen = grant("self", body=None, role="citizen")
    assert ids(session, columns(who(citizen))) == {1, 5}
    assert ids(session, scope(who(citizen), "x:read", state_col=Row.state_code)) == set()


def test_work_held_by_a_role_where_it_is_held_and_assigned_to_me_or_the_pool(session: Session) -> None:
    """The inbox: a clerk of kl.a and a state-wide officer see their roles' work, not others' assignments."""
    me = who(BODY, STATE, user="u1")
    held = scope(
        me,
        "x:read",
        state_col=Row.state_code,
        local_body_col=Row.local_body_code,
        ward_col=Row.ward_code,
        role_col=Row.role,
    )
    assert ids(session, held) == {1, 2, 3, 4}  # 5 is a clerk's work, but in another state
    mine = scope(
        me,
        "x:read",
        state_col=Row.state_code,
        local_body_col=Row.local_body_code,
        ward_col=Row.ward_code,
        role_col=Row.role,
        assignee_col=Row.assignee_id,
    )
    assert ids(session, mine) == {1, 2, 4}  # 3 is assigned to u2
    assert (
        ids(session, scope(who(), "x:read", state_col=Row.state_code, role_col=Row.role, assignee_col=Row.assignee_id)) == set()
    )


def test_a_place_code_reaches_its_place_and_the_places_within(session: Session) -> None:
    def place(*grants: Grant) -> set[int]:
        return ids(session, scope(who(*grants), "x:read", place_col=Row.place))

    assert place(STATE) == {1, 2, 3, 4, 6, 7}  # not 'kla', whose code merely starts with 'kl'
    assert place(BODY) == {1, 2, 3}  # not the state above it
    assert place(WARD) == {2}
    assert place(grant(body="kl.a_b")) == set()  # '_' is a character of the code, not a wildcard
    assert place(grant("self", body=None)) == set()
    assert place() == set()


def test_the_place_of_a_grant() -> None:
    assert STATE.place == "kl"
    assert BODY.place == "kl.a"
    assert WARD.place == "kl.a.w1"
    assert grant("state", body=None, ward=None).place == "kl"


def test_a_table_is_given_by_state_columns_or_a_place_code() -> None:
    with pytest.raises(TypeError):
        scope(who(BODY), "x:read")
    with pytest.raises(TypeError):
        scope(who(BODY), "x:read", state_col=Row.state_code, place_col=Row.place)


# --- nothing else turns grants into clauses ------------------------------------------------------

PLACE_ATTRIBUTES = {"state_code", "local_body_code", "ward_code"}
# Modules that still read where a grant is held, each with the reason; remove an entry once the
# module uses scope() (the test fails while an entry is no longer needed).
ALLOWED: dict[str, str] = {}
# Where grants are made (identity) and read (kit/access.py).
EXEMPT = {"kit/access.py", "identity/service.py"}


def _grant_places_read(tree: ast.AST) -> list[int]:
    """Lines that read a place attribute of a name bound by iterating over ``<something>.grants``."""
    found: list[int] = []
    for node in ast.walk(tree):
        loops: list[tuple[ast.expr, ast.expr, list[ast.AST]]] = []
        if isinstance(node, ast.For):
            loops.append((node.target, node.iter, [*node.body, *node.orelse]))
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            parts: list[ast.AST] = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for gen in node.generators:
                loops.append((gen.target, gen.iter, [*parts, *gen.ifs]))
        for target, iterated, body in loops:
            if not (isinstance(iterated, ast.Attribute) and iterated.attr == "grants" and isinstance(target, ast.Name)):
                continue
            for part in body:
                found += [
                    n.lineno
                    for n in ast.walk(part)
                    if isinstance(n, ast.Attribute)
                    and n.attr in PLACE_ATTRIBUTES
                    and isinstance(n.value, ast.Name)
                    and n.value.id == target.id
                ]
    return found


def test_the_check_finds_a_clause_built_by_hand() -> None:
    by_hand = """
def visible(principal):
    clauses = []
    for g in principal.grants:
        clause = Thing.state_code == g.state_code
        if g.local_body_code:
            clause = clause & (Thing.local_body_code == g.local_body_code)
        clauses.append(clause)
    return or_(*clauses)

bodies = {g.local_body_code for g in principal.grants if g.local_body_code}
"""
    assert _grant_places_read(ast.parse(by_hand)) == [5, 6, 7, 11, 11]
    assert _grant_places_read(ast.parse("roles = {g.role for g in p.grants if g.covers(a.state_code, None, None)}")) == []


def test_only_kit_access_turns_grants_into_jurisdiction_clauses() -> None:
    """Every list, search, inbox, report and export scopes its query with kit.access.scope()."""
    offenders: dict[str, list[int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name in EXEMPT:
            continue
        lines = _grant_places_read(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            offenders[name] = lines
    unexpected = {name: lines for name, lines in offenders.items() if name not in ALLOWED}
    assert not unexpected, f"build the jurisdiction clause with nagara.kit.access.scope(), not from grants by hand: {unexpected}"
    stale = sorted(set(ALLOWED) - set(offenders))
    assert not stale, f"these modules no longer read where grants are held: remove them from ALLOWED: {stale}"
