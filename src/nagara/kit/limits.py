"""Limits on how often something may be tried: one counter row per key, changed atomically.

A limit (codes per mobile number, wrong passwords per username and address) must hold when
requests arrive together on many connections. Reading a count and writing it back lets every
parallel request read the same old count; so :func:`hit` is one statement, an upsert that adds
one and returns the new count (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``). On
PostgreSQL the statement also holds the counter's row lock until the transaction ends, so
requests for the same key take turns; SQLite has one writer at a time anyway.

A window is fixed: it starts with the first hit after the previous one ended and lasts
``window``; then the count starts again from one.

Use it as a reservation: hit first, refuse when the count is over the limit, and only then do the
work being limited (check the password, send the code). Parallel requests get counts 1, 2, 3...,
so at most ``limit`` of them ever reach the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Table, case, delete, literal, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from nagara.kit.db import Base, UTCDateTime, upsert_returning, utcnow


class Throttle(Base):
    """How many times ``key`` was tried in the window ending at ``resets_at``."""

    __tablename__ = "throttles"
    __audited__ = False

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    resets_at: Mapped[datetime] = mapped_column(index=True)


THROTTLES: Table = Throttle.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Hit:
    count: int  # this try's number in the window: 1 for the first
    retry_after: int  # seconds until the window ends

    def over(self, limit: int) -> bool:
        return self.count > limit


def hit(session: Session, key: str, *, window: timedelta) -> Hit:
    """Count one try of ``key`` (atomically) and return its number in the current window."""
    now = utcnow()
    now_ = literal(now, UTCDateTime())
    ends = literal(now + window, UTCDateTime())
    ended = THROTTLES.c.resets_at <= now_
    row = upsert_returning(
        session,
        THROTTLES,
        {"key": key, "count": 1, "resets_at": now + window},
        index_elements=[THROTTLES.c.key],
        set_={
            "count": case((ended, 1), else_=THROTTLES.c.count + 1),
            "resets_at": case((ended, ends), else_=THROTTLES.c.resets_at),
        },
        returning=[THROTTLES.c.count, THROTTLES.c.resets_at],
    )
    resets_at = row.resets_at if row.resets_at.tzinfo else row.resets_at.replace(tzinfo=now.tzinfo)
    return Hit(count=int(row.count), retry_after=max(1, int((resets_at - now).total_seconds()) + 1))


def give_back(session: Session, key: str) -> None:
    """Undo one :func:`hit` of this request (a try that turned out not to count)."""
    session.execute(update(THROTTLES).where(THROTTLES.c.key == key, THROTTLES.c.count > 0).values(count=THROTTLES.c.count - 1))


def clear(session: Session, key: str) -> None:
    """Start ``key`` afresh (a right password ends the count of wrong ones)."""
    session.execute(delete(THROTTLES).where(THROTTLES.c.key == key))


def prune(session: Session, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Drop counters whose window ended long ago; returns how many."""
    result = session.execute(delete(THROTTLES).where(THROTTLES.c.resets_at < utcnow() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)
