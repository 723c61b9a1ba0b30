"""The rollup tables: counts per day and place, what each case contributed, and how far the fold has read.

All three are derived from the records (applications, their history, their fees) and can be
rebuilt from them (``nagara analytics rebuild``); they are not audited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base


class Count(Base):
    """One measure on one day at one place (a ward of a body), for one service and channel.

    ``subject`` is the service code; ``bucket`` splits a measure into a histogram (the days a
    decision took) and is 0 otherwise. The state and district are the body's, copied so that
    the state and district dashboards read one index range.
    """

    __tablename__ = "analytics_counts"
    __audited__ = False
    __table_args__ = (
        Index("ix_analytics_counts_state_day", "state_code", "day"),
        Index("ix_analytics_counts_district_day", "district_code", "day"),
    )

    local_body_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ward_code: Mapped[str] = mapped_column(String(96), primary_key=True)  # "" when the case names no ward
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    measure: Mapped[str] = mapped_column(String(96), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_code: Mapped[str] = mapped_column(String(8))
    district_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class DistrictCount(Base):
    """The counts summed over a district's bodies, wards and channels: what the state's dashboard reads
    (a few rows per district and day, however many bodies and wards the state has)."""

    __tablename__ = "analytics_district_counts"
    __audited__ = False
    __table_args__ = (Index("ix_analytics_district_counts_state_day", "state_code", "day"),)

    district_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(String(96), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_code: Mapped[str] = mapped_column(String(8))
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Fact(Base):
    """What one case adds to the counts now: folding it again replaces this, so a fold may repeat."""

    __tablename__ = "analytics_facts"
    __audited__ = False

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    local_body_code: Mapped[str] = mapped_column(String(80))
    # each a list: day, ward, subject, channel, measure, bucket and value
    contributions: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)


class Cursor(Base):
    """How far the fold has read a feed (``ledger``: the index of the last ledger entry folded)."""

    __tablename__ = "analytics_cursors"
    __audited__ = False

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
