"""Importing a legacy register: plan, dry run, run (batched, idempotent, resumable) and the report.

A run reads the source once, in order, and commits every ``batch_size`` rows: the batch's new
records, its refused and duplicate rows, and the run's tallies and last committed row, in one
transaction. A run killed at any moment resumes from its last commit (same source file, same
mapping: the run is found by their checksums) and ends with the same records and report as an
uninterrupted one. Each batch costs a fixed number of statements whatever its size: one query
for the keys it might repeat, one bulk insert of records (``COPY`` on PostgreSQL), one of
issues and one update of the run; no per-row ORM objects or lookups.

Every source row ends in exactly one of: imported (new, or the same record already imported by an
earlier run: ``unchanged``), rejected (each reason with its column) or duplicate (the same natural
key as an earlier row of this source). The report checks source = imported + rejected + duplicate
per body and year, sums every money column, and carries the source file's SHA-256 and a chained
SHA-256 of every imported record's checksum in source order. It is signed with the node's issuer key
and its hash appended to the public ledger.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from sqlalchemy import String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from nagara.catalog import service as catalog
from nagara.certificates.issuer import issuer_for
from nagara.kit.db import Database, bulk_insert, lock_for_transaction, utcnow
from nagara.kit.errors import NotFound
from nagara.ledger import service as ledger
from nagara.migration import sources
from nagara.migration.mapping import Converted, Mapping, Memo, record_json
from nagara.migration.models import MigrationIssue, MigrationRecord, MigrationRun
from nagara.migration.records import raise_arrears
from nagara.runtime import Runtime, runtime_of
from nagara.tenancy.models import LocalBody, State

UNKNOWN = "?"  # the body or year of a row refused before either was known
COUNTS = ("source", "imported", "unchanged", "rejected", "duplicate")
RECORD_COLUMNS = (
    "register",
    "state_code",
    "local_body_code",
    "natural_key",
    "legacy_number",
    "record_date",
    "year",
    "amount",
    "run_id",
    "source_row",
    "sha256",
    "seen_run_id",
    "seen_row",
    "data_sealed",
)
ISSUE_COLUMNS = ("run_id", "source_row", "kind", "column", "reason", "local_body_code", "year")
REPORT_TYPE = "nagara-migration-report/1"


class MigrationRefused(ValueError):
    """The run cannot start: the mapping does not fit this node (unknown state, body or service)."""


def _group(body: str | None, year: int | None) -> str:
    return f"{body or UNKNOWN}|{year if year is not None else UNKNOWN}"


@dataclass
class Tally:
    """Counts and money per ``body|year``, and the chain of imported records' checksums."""

    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def group(self, key: str) -> dict[str, Any]:
        found = self.groups.get(key)
        if found is None:
            found = self.groups[key] = {**dict.fromkeys(COUNTS, 0), "money": {}, "records_sha256": ""}
        return found

    def count(self, key: str, what: str) -> None:
        g = self.group(key)
        g["source"] += 1
        g[what] += 1
        if what == "unchanged":
            g["imported"] += 1

    def imported(self, key: str, record: dict[str, Any], sha: str, money_fields: list[str]) -> None:
        g = self.group(key)
        g["records_sha256"] = hashlib.sha256((g["records_sha256"] + sha).encode()).hexdigest()
        for name in money_fields:
            if name in record:
                g["money"][name] = g["money"].get(name, 0) + record[name]


def check_mapping(session: Session, mapping: Mapping) -> list[str]:
    """What in the mapping this node does not have: its state, the local bodies it names, its service."""
    problems: list[str] = []
    if session.get(State, mapping.state) is None:
        return [f"state {mapping.state!r} is not loaded on this node; load its pack first"]
    bodies = set(session.scalars(select(LocalBody.code).where(LocalBody.state_code == mapping.state)))
    named = set(mapping.body_codes.values()) | ({mapping.body_fixed} if mapping.body_fixed else set())
    for code in sorted(named):
        if f"{mapping.state}.{code}" not in bodies and code not in bodies:
            problems.append(f"local body {code!r} is not in the {mapping.state} pack")
    if mapping.service is not None:
        for code in sorted(named):
            body = _body_code(mapping, code)
            try:
                catalog.get_service(session, body, mapping.service)
            except NotFound:
                problems.append(f"service {mapping.service!r} is not offered at {body}")
    return problems


def _body_code(mapping: Mapping, body: str) -> str:
    return body if "." in body else f"{mapping.state}.{body}"


@dataclass
class Plan:
    mapping: Mapping
    source: sources.Source
    columns: list[str]
    missing_columns: list[str]
    unused_columns: list[str]
    problems: list[str]
    previous_run: MigrationRun | None


def plan(session: Session, mapping: Mapping, source: sources.Source, *, sheet: str | None = None) -> Plan:
    """What a run would read and write, from the mapping and the source's first row, writing nothing."""
    first = next(iter(sources.rows(source, sheet=sheet)), None)
    columns = [c for c in (first[1] if first else {}) if not c.startswith("\x00")]
    wanted = [f.column for f in mapping.fields if f.column] + ([mapping.body_column] if mapping.body_column else [])
    previous = session.scalars(
        select(MigrationRun)
        .where(MigrationRun.register == mapping.register, MigrationRun.source_sha256 == source.sha256)
        .order_by(MigrationRun.started_at.desc())
        .limit(1)
    ).first()
    return Plan(
        mapping,
        source,
        columns,
        [c for c in wanted if c not in columns],
        [c for c in columns if c not in wanted],
        check_mapping(session, mapping),
        previous,
    )


@dataclass
class Progress:
    rows: int  # rows read so far in this process
    committed_row: int


@dataclass
class Outcome:
    run_id: str | None
    tally: Tally
    resumed_from: int
    dry_run: bool
    issues: list[tuple[int, str, str, str]]  # dry run: (row, kind, column, reason)


def _find_run(session: Session, mapping: Mapping, source: sources.Source) -> MigrationRun | None:
    return session.scalars(
        select(MigrationRun).where(
            MigrationRun.register == mapping.register,
            MigrationRun.source_sha256 == source.sha256,
            MigrationRun.mapping_sha256 == mapping.digest,
            MigrationRun.status == "running",
        )
    ).first()


class _Batcher:
    """One batch's decisions: which rows become records, which are refused or duplicates."""

    def __init__(self, runtime: Runtime, mapping: Mapping, run_id: str, today: date) -> None:
        self.runtime = runtime
        self.mapping = mapping
        self.run_id = run_id
        self.today = today
        self.money = mapping.money_fields
        self.legacy_field = next((k for k in mapping.key if "number" in k), mapping.key[0])
        self.memo = Memo(mapping)  # one per run: ``today`` is the run's

    def decide(
        self,
        session: Session,
        batch: list[tuple[int, dict[str, str]]],
        tally: Tally,
        seen: dict[tuple[str, str], int] | None,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, str, dict[str, Any]]]]:
        mapping = self.mapping
        convert, today, memo = mapping.convert, self.today, self.memo
        converted: list[tuple[int, Converted]] = [(n, convert(row, today=today, memo=memo)) for n, row in batch]
        keys = {(_body_code(mapping, c.body), c.key) for _, c in converted if c.record is not None and c.body and c.key}
        existing: dict[tuple[str, str], tuple[str, int, str, int]] = {}
        if keys:
            wanted = sorted({k for _, k in keys})
            if session.get_bind().dialect.name == "postgresql":  # one array, not thousands of parameters
                among = MigrationRecord.natural_key == any_(bindparam("keys", wanted, type_=ARRAY(String)))
            else:
                among = MigrationRecord.natural_key.in_(wanted)
            found = session.execute(
                select(
                    MigrationRecord.local_body_code,
                    MigrationRecord.natural_key,
                    MigrationRecord.seen_run_id,
                    MigrationRecord.seen_row,
                    MigrationRecord.sha256,
                    MigrationRecord.id,
                ).where(MigrationRecord.register == mapping.register, among)
            )
            existing = {(b, k): (r, s, h, i) for b, k, r, s, h, i in found if (b, k) in keys}
        records: list[tuple[Any, ...]] = []
        issues: list[tuple[Any, ...]] = []
        met: list[dict[str, Any]] = []  # records of earlier runs this run meets again
        new: list[tuple[str, str, dict[str, Any]]] = []  # (body, key, record) of the records this batch adds
        in_batch: dict[tuple[str, str], int] = {}
        cipher = self.runtime.cipher
        for number, c in converted:
            if c.record is None:
                group = _group(_body_code(mapping, c.body) if c.body else None, c.year)
                tally.count(group, "rejected")
                columns_seen: set[str] = set()
                for column, reason in c.problems:
                    if column in columns_seen:
                        continue
                    columns_seen.add(column)
                    issues.append((self.run_id, number, "rejected", column, reason, group.split("|")[0], c.year))
                continue
            assert c.body is not None
            assert c.key is not None
            body = _body_code(mapping, c.body)
            group = _group(body, c.year)
            key = (body, c.key)
            first = in_batch.get(key) or (seen.get(key) if seen is not None else None)
            canonical = record_json(c.record)
            sha = hashlib.sha256(canonical.encode()).hexdigest()
            previous = existing.get(key)
            if first is None and previous is not None and previous[0] == self.run_id:
                first = previous[1]
            if first is not None:
                tally.count(group, "duplicate")
                reason = f"the same record ({', '.join(mapping.key)}) as row {first}; not imported twice"
                issues.append((self.run_id, number, "duplicate", ",".join(mapping.key), reason, body, c.year))
                continue
            if previous is not None:
                in_batch[key] = number
                if seen is not None:
                    seen[key] = number
                else:
                    met.append({"id": previous[3], "seen_run_id": self.run_id, "seen_row": number})
                if previous[2] == sha:
                    tally.count(group, "unchanged")
                    tally.imported(group, c.record, sha, self.money)
                else:
                    tally.count(group, "rejected")
                    reason = (
                        "a record with this key was imported by an earlier run with different values; "
                        "correct it through the service, not by importing again"
                    )
                    issues.append((self.run_id, number, "rejected", ",".join(mapping.key), reason, body, c.year))
                continue
            in_batch[key] = number
            if seen is not None:
                seen[key] = number
            tally.count(group, "imported")
            tally.imported(group, c.record, sha, self.money)
            new.append((body, c.key, c.record))
            record_day = c.record.get(mapping.year_field)
            records.append(
                (
                    mapping.register,
                    mapping.state,
                    body,
                    c.key,
                    str(c.record.get(self.legacy_field, ""))[:64] or None,
                    date.fromisoformat(record_day) if record_day else None,
                    c.year,
                    sum(int(c.record.get(m, 0)) for m in self.money),
                    self.run_id,
                    number,
                    sha,
                    self.run_id,
                    number,
                    cipher.encrypt(canonical, context="migration-record"),
                )
            )
        if met:
            session.execute(update(MigrationRecord), met)
        return records, issues, new


def _batches(rows: Iterable[tuple[int, dict[str, str]]], size: int, after: int) -> Iterable[list[tuple[int, dict[str, str]]]]:
    batch: list[tuple[int, dict[str, str]]] = []
    for number, row in rows:
        if number <= after:
            continue
        batch.append((number, row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(
    runtime: Runtime,
    mapping: Mapping,
    source: sources.Source,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    sheet: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Outcome:
    """Import ``source`` through ``mapping`` (or, with ``dry_run``, check every row and write nothing)."""
    if batch_size < 1 or batch_size > 100_000:
        raise MigrationRefused(f"batch size {batch_size}: allowed 1 to 100000")
    db: Database = runtime.db
    today = utcnow().date()
    with db.unit_of_work(readonly=dry_run) as session:
        problems = check_mapping(session, mapping)
        if problems:
            raise MigrationRefused("; ".join(problems))
        existing = None if dry_run else _find_run(session, mapping, source)
        if dry_run:
            run_id, after, tally = "dry-run", 0, Tally()
        elif existing is None:
            row = MigrationRun(
                state_code=mapping.state,
                register=mapping.register,
                mapping_code=mapping.code,
                mapping_sha256=mapping.digest,
                service_code=mapping.service,
                source_name=source.path.name[:255],
                source_sha256=source.sha256,
                source_format=source.format,
                batch_size=batch_size,
                tallies={},
            )
            session.add(row)
            session.flush()
            run_id, after, tally = row.id, 0, Tally()
        else:
            run_id, after, tally = existing.id, existing.committed_row, Tally(dict(existing.tallies))
    batcher = _Batcher(runtime, mapping, run_id, today)
    seen: dict[tuple[str, str], int] | None = {} if dry_run else None
    dry_issues: list[tuple[int, str, str, str]] = []
    read = 0
    for batch in _batches(sources.rows(source, sheet=sheet), batch_size, after):
        read += len(batch)
        if dry_run:
            with db.unit_of_work(readonly=True) as session:
                _records, issues, _new = batcher.decide(session, batch, tally, seen)
            dry_issues.extend((i[1], i[2], i[3], i[4]) for i in issues)
        else:
            with db.unit_of_work() as session:
                lock_for_transaction(session, f"migration:{mapping.register}")
                records, issues, new = batcher.decide(session, batch, tally, None)
                bulk_insert(session, MigrationRecord.__table__, RECORD_COLUMNS, records)
                bulk_insert(session, MigrationIssue.__table__, ISSUE_COLUMNS, issues)
                if mapping.register == "property":
                    raise_arrears(session, mapping, new)
                run_row = session.get(MigrationRun, run_id, with_for_update=True)
                assert run_row is not None
                run_row.committed_row = batch[-1][0]
                run_row.batches += 1
                run_row.tallies = json.loads(json.dumps(tally.groups))
        if on_progress is not None:
            on_progress(Progress(rows=read, committed_row=batch[-1][0]))
    if dry_run:
        return Outcome(None, tally, 0, True, dry_issues)
    with db.unit_of_work() as session:
        run_row = session.get(MigrationRun, run_id, with_for_update=True)
        assert run_row is not None
        if run_row.status == "running":
            finish(session, run_row, mapping, source)
    return Outcome(run_id, tally, after, False, [])


def totals(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {**dict.fromkeys(COUNTS, 0), "money": {}}
    for g in groups.values():
        for c in COUNTS:
            out[c] += g[c]
        for name, value in g["money"].items():
            out["money"][name] = out["money"].get(name, 0) + value
    return out


def balanced(g: dict[str, Any]) -> bool:
    return bool(g["source"] == g["imported"] + g["rejected"] + g["duplicate"])


def build_report(run_row: MigrationRun, mapping: Mapping, source: sources.Source) -> dict[str, Any]:
    groups = []
    for key in sorted(run_row.tallies):
        body, year = key.split("|")
        g = run_row.tallies[key]
        groups.append(
            {
                "register": run_row.register,
                "local_body": body,
                "year": year,
                **{c: g[c] for c in COUNTS},
                "money_paise": dict(sorted(g["money"].items())),
                "records_sha256": g["records_sha256"],
                "balanced": balanced(g),
            }
        )
    total = totals(run_row.tallies)
    return {
        "type": REPORT_TYPE,
        "run": run_row.id,
        "state": run_row.state_code,
        "register": run_row.register,
        "mapping": {"code": mapping.code, "sha256": mapping.digest, "title": mapping.title},
        "source": {"name": source.path.name, "sha256": source.sha256, "bytes": source.size, "format": source.format},
        "started_at": run_row.started_at.isoformat(),
        "groups": groups,
        "totals": {**total, "balanced": balanced(total)},
        "invariant": "source = imported + rejected + duplicate",
    }


def _sign(runtime: Runtime, digest: str) -> tuple[str, str]:
    issuer = issuer_for(runtime.settings)
    signature = issuer.key.sign(bytes.fromhex(digest))
    return issuer.verification_method, base64.b64encode(signature).decode()


def finish(session: Session, run_row: MigrationRun, mapping: Mapping, source: sources.Source) -> None:
    """Close the run: its report, signed by the node, its hash on the public ledger."""
    runtime = runtime_of(session)
    report = build_report(run_row, mapping, source)
    report["finished_at"] = utcnow().isoformat()
    digest = hashlib.sha256(rfc8785.dumps(report)).hexdigest()
    method, signature = _sign(runtime, digest)
    run_row.report = report
    run_row.report_sha256 = digest
    run_row.signature = json.dumps({"verificationMethod": method, "alg": "Ed25519", "sha256": digest, "value": signature})
    run_row.status = "done"
    run_row.finished_at = utcnow()
    run_row.ledger_pending_id = ledger.append(
        session,
        type="migration.reconciled",
        tenant_code=mapping.state,
        subject=f"migration/{run_row.id}",
        content={"report_sha256": digest, "source_sha256": source.sha256, "totals": report["totals"]},
        actor_role=None,
    )


def verify_signature(runtime: Runtime, run_row: MigrationRun) -> bool:
    """The stored report hashes to what was signed, and the node's key signed it."""
    if run_row.report is None or run_row.signature is None:
        return False
    signed = json.loads(run_row.signature)
    digest = hashlib.sha256(rfc8785.dumps(run_row.report)).hexdigest()
    if digest != signed["sha256"] or digest != run_row.report_sha256:
        return False
    try:
        issuer_for(runtime.settings).public_key.verify(base64.b64decode(signed["value"]), bytes.fromhex(digest))
    except InvalidSignature:
        return False
    return True


def get_run(session: Session, run_id: str) -> MigrationRun | None:
    return session.get(MigrationRun, run_id)


def latest_run(session: Session, register: str | None = None) -> MigrationRun | None:
    query = select(MigrationRun).order_by(MigrationRun.started_at.desc()).limit(1)
    if register:
        query = query.where(MigrationRun.register == register)
    return session.scalars(query).first()


def issues_of(session: Session, run_id: str) -> Iterable[MigrationIssue]:
    return session.scalars(
        select(MigrationIssue).where(MigrationIssue.run_id == run_id).order_by(MigrationIssue.source_row, MigrationIssue.id)
    )
