from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, utcnow

# SQLite gives a rowid only to INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for millions of rows.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class MigrationRun(IdMixin, Base):
    """One import of one legacy file through one mapping: its progress (the last source row whose
    batch committed: where a run stopped by a crash resumes), its tallies, and its signed report."""

    __tablename__ = "migration_runs"
    __table_args__ = (Index("ix_migration_runs_source", "register", "source_sha256"),)

    state_code: Mapped[str] = mapped_column(String(16))
    register: Mapped[str] = mapped_column(String(32))
    mapping_code: Mapped[str] = mapped_column(String(64))
    mapping_sha256: Mapped[str] = mapped_column(String(64))
    service_code: Mapped[str | None] = mapped_column(String(64))  # the mapping's service: how its records are issued
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    batch_size: Mapped[int] = mapped_column(Integer)
    committed_row: Mapped[int] = mapped_column(Integer, default=0)  # the last source row number a commit covers
    batches: Mapped[int] = mapped_column(Integer, default=0)
    tallies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "body|year" -> counts and money sums
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)
    ledger_pending_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def audit_tenant(self) -> str:
        return self.state_code


class MigrationRecord(Base):
    """A legacy record as imported: one per register, body and natural key, whichever run brought it.

    The mapped fields are personal data and sealed; what reconciles and finds it is plain: the
    legacy registration number, its date, the money it carries and the record's checksum.
    Written in batches by ``migration.service`` without per-row ORM objects; the run that wrote
    it is audited and its signed report names every record's checksum, so rows are not audited
    one by one (a million audit rows would say less than the report).
    """

    __tablename__ = "migration_records"
    __audited__ = False
    __table_args__ = (
        # natural_key before the body: a batch asks for its keys with one ``natural_key IN (...)``.
        UniqueConstraint("register", "natural_key", "local_body_code"),
        Index("ix_migration_records_run", "run_id", "source_row"),
        Index("ix_migration_records_legacy", "local_body_code", "register", "legacy_number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    register: Mapped[str] = mapped_column(String(32))
    state_code: Mapped[str] = mapped_column(String(16))
    local_body_code: Mapped[str] = mapped_column(String(80))
    natural_key: Mapped[str] = mapped_column(String(255))
    legacy_number: Mapped[str | None] = mapped_column(String(64))
    record_date: Mapped[date | None] = mapped_column(Date)
    year: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # paise: the record's money fields summed
    run_id: Mapped[str] = mapped_column(String(36))
    source_row: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # The last run that met this record and at which row: a later run that meets the same key again
    # knows the second meeting is a duplicate within its own source, not the record imported before.
    seen_run_id: Mapped[str] = mapped_column(String(36))
    seen_row: Mapped[int] = mapped_column(Integer)
    data_sealed: Mapped[str] = mapped_column(Text)
    target_kind: Mapped[str | None] = mapped_column(String(16))  # application | demand, once it became one
    target_id: Mapped[str | None] = mapped_column(String(36))


class MigrationIssue(Base):
    """A source row not imported: refused (with the column and the reason in plain words), or a
    duplicate of an earlier row of the same source. Never the row's values (personal data)."""

    __tablename__ = "migration_issues"
    __audited__ = False  # written with the run's batches, which the run's report accounts for
    __table_args__ = (UniqueConstraint("run_id", "source_row", "column"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(36))
    source_row: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # rejected | duplicate
    column: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    local_body_code: Mapped[str | None] = mapped_column(String(80))
    year: Mapped[int | None] = mapped_column(Integer)
