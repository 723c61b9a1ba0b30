"""Register numbers: the one counter table, how a number is taken, and its printed form.

A register (applications, demands, receipts, certificates) is a legal record: its numbers run
without gaps. So a number is taken with :func:`take` inside the writing transaction, on the
session's own connection: if the transaction rolls back, the number goes back with it, and the
next writer gets it. Taking it holds the counter's row lock (PostgreSQL; SQLite has one writer)
until the transaction ends, and every other writer of the same register waits for it there:
take the number as late as possible, after every check and read, just before the row that
carries it is inserted.

The printed form is ``<STATE>-<BODY>-<KIND>-<PERIOD>-<NNNNNN>``, for example
``KL-TVMCORP-BR-2026-000042``: the body's code without hyphens, upper case, cut to ten
characters; the kind is a service's ``short`` code, a certificate template's prefix, or a
payments register (``D``, ``PT``, ``R``, ``RF``); the period a calendar or a financial year.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from nagara.kit.db import Base


class NumberCounter(Base):
    """The last number given per prefix (state, local body, register, period)."""

    __tablename__ = "number_counters"
    __audited__ = False

    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


COUNTERS: Table = NumberCounter.__table__  # type: ignore[assignment]


def register_prefix(local_body_code: str, kind: str, period: str | int) -> str:
    """The prefix of a local body's register: ``register_prefix("kl.tvm-corp", "R", "2026-27")`` is ``KL-TVMCORP-R-2026-27``."""
    state, body = local_body_code.split(".", 1)
    return f"{state.upper()}-{body.replace('-', '').upper()[:10]}-{kind}-{period}"


def register_number(prefix: str, number: int) -> str:
    """The printed number: the prefix and six digits (more once a register passes 999,999)."""
    return f"{prefix}-{number:06d}"


def take(session: Session, prefix: str, count: int = 1) -> int:
    """The first of ``count`` consecutive numbers of ``prefix``, taken in the session's transaction.

    One statement (an upsert that returns the new last number). Gapless: a rollback returns the
    numbers. The counter's row stays locked until the transaction ends; see the module's note.
    """
    if count < 1:
        raise ValueError("take at least one number")
    last = _bump(session.connection(), prefix, count)
    return last - count + 1


def next_number(session: Session, local_body_code: str, kind: str, period: str | int) -> str:
    """Take the next number of a local body's register and print it."""
    prefix = register_prefix(local_body_code, kind, period)
    return register_number(prefix, take(session, prefix))


def take_outside(session: Session, prefix: str) -> int:
    """The next number of a sequence that is not a register, taken in a short transaction of its own.

    Only for positions where a gap is harmless and holding the row lock to the end of the
    writer's transaction would queue every writer of the state behind each other: a
    certificate's place in a status list (an unused bit stays "valid" and is never read).
    SQLite has one writer anyway, so there it is taken inside the session's transaction.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        engine = bind.engine if isinstance(bind, Connection) else bind
        with engine.begin() as conn:
            # Its own transaction cannot see the caller's: if the caller held this row, waiting would
            # never end. Others hold it for one statement, so a long wait is that defect: say so.
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            return _bump(conn, prefix, 1)
    return _bump(session.connection(), prefix, 1)


def _bump(conn: Connection, prefix: str, count: int) -> int:
    # The one piece of engine-specific SQL here: both engines spell the upsert alike, from
    # their own dialect's insert().
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(COUNTERS)
        .values(prefix=prefix, last=count)
        .on_conflict_do_update(index_elements=[COUNTERS.c.prefix], set_={"last": COUNTERS.c.last + count})
        .returning(COUNTERS.c.last)
    )
    return int(conn.execute(statement).scalar_one())
