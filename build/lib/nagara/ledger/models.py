"""The ledger's tables.

An entry is written as a pending row in the transaction of the change it records
(``ledger_pending``). The integrator (one at a time) moves pending rows into the
tree: it gives each a consecutive index (``ledger_entries``), stores the C2SP
tlog-tiles hash tiles and entry bundles (``ledger_tiles``) and signs a checkpoint
(``ledger_checkpoints``), all in one transaction. Witnesses' cosignatures on our
checkpoints are kept in ``ledger_cosignatures``; as a witness of other logs the
node keeps the latest checkpoint it cosigned per origin in ``ledger_witnessed``.

The ledger is its own public, append-only record, so its rows are not audited
(``__audited__ = False``); nothing in them is personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class PendingEntry(Base):
    """An entry waiting for its index; deleted by the integrator as it integrates it."""

    __tablename__ = "ledger_pending"
    __audited__ = False
    __table_args__ = (Index("ix_ledger_pending_subject", "subject"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    tenant_code: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str] = mapped_column(String(128))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogEntry(Base):
    """An integrated entry: its index in the log, and what to find it by.

    The entry's bytes are in its entry bundle (``ledger_tiles`` level -1).
    """

    __tablename__ = "ledger_entries"
    __audited__ = False
    __table_args__ = (Index("ix_ledger_entries_subject", "subject", "idx"),)

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    tenant_code: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str] = mapped_column(String(128))


class LogTile(Base):
    """The newest contents of one tile position: a hash tile (level >= 0) or entry bundle (-1).

    A tile only grows (a partial tile of width W is the first W hashes or entries
    of every wider version), so one row per position serves every width up to
    ``width``.
    """

    __tablename__ = "ledger_tiles"
    __audited__ = False

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(SmallInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SignedCheckpoint(Base):
    """Every checkpoint the log signed; the newest one's size is the size of the tree."""

    __tablename__ = "ledger_checkpoints"
    __audited__ = False

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    origin: Mapped[str] = mapped_column(String(200))
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cosignature(Base):
    """A witness's verified cosignature (tlog-cosignature) on one of our checkpoints."""

    __tablename__ = "ledger_cosignatures"
    __audited__ = False

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<key name>+<key id hex>"
    line: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WitnessStatus(Base):
    """What each witness we submit to last cosigned for our log, and the last failure."""

    __tablename__ = "ledger_witness_status"
    __audited__ = False

    witness: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<key name>+<key id hex>"
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WitnessedLog(Base):
    """As a witness (tlog-witness): the latest checkpoint cosigned for each log origin."""

    __tablename__ = "ledger_witnessed"
    __audited__ = False

    origin: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str | None] = mapped_column(Text)  # the checkpoint with the log's and our signatures
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
