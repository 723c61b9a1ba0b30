"""Ledger entries: canonical JSON written in the caller's transaction, with salted content hashes."""

from __future__ import annotations

import json

import pytest
import rfc8785
from sqlalchemy import func, select

from nagara.ledger import entry as entries
from nagara.ledger import service
from nagara.ledger.models import PendingEntry
from nagara.runtime import Runtime


def _append(session: object, subject: str = "KL-TVMCORP-BR-2026-000001", **content: object) -> int:
    return service.append(
        session,  # type: ignore[arg-type]
        type="application.action",
        tenant_code="kl.tvm-corp",
        subject=subject,
        content=content or {"action": "forward", "applicant": "Anitha K", "mobile": "+919847000001"},
        actor_role="section_clerk",
    )


def test_an_entry_is_canonical_json_naming_a_role_and_hiding_the_content(ledger: Runtime) -> None:
    with ledger.db.unit_of_work() as s:
        pending_id = _append(s)
        body = s.get(PendingEntry, pending_id).body  # type: ignore[union-attr]
    parsed = entries.parse_entry(body)
    raw = json.loads(body)
    assert rfc8785.dumps(raw) == body
    assert set(raw) == {"v", "type", "tenant", "subject", "content_hash", "salt_id", "actor_role", "time"}
    assert (parsed.type, parsed.tenant, parsed.subject, parsed.actor_role) == (
        "application.action",
        "kl.tvm-corp",
        "KL-TVMCORP-BR-2026-000001",
        "section_clerk",
    )
    assert parsed.time.endswith("Z")
    for personal in (b"Anitha", b"9847000001", b"applicant"):
        assert personal not in body
    # The owner can prove the content by revealing this entry's salt, and nothing else proves it.
    with ledger.db.unit_of_work(readonly=True) as s:
        salt = service.entry_salt_for(s, parsed.salt_id)
    content = {"action": "forward", "applicant": "Anitha K", "mobile": "+919847000001"}
    assert entries.verify_content(parsed, content, salt)
    assert not entries.verify_content(parsed, {**content, "action": "reject"}, salt)
    assert not entries.verify_content(parsed, content, bytes(32))


def test_salts_differ_per_entry_so_equal_content_is_not_linkable(ledger: Runtime) -> None:
    with ledger.db.unit_of_work() as s:
        a = entries.parse_entry(s.get(PendingEntry, _append(s, action="approve")).body)  # type: ignore[union-attr]
        b = entries.parse_entry(s.get(PendingEntry, _append(s, action="approve")).body)  # type: ignore[union-attr]
        salt_a = service.entry_salt_for(s, a.salt_id)
    assert a.salt_id != b.salt_id
    assert a.content_hash != b.content_hash
    assert entries.verify_content(a, {"action": "approve"}, salt_a)
    assert not entries.verify_content(b, {"action": "approve"}, salt_a)


def test_a_pending_entry_rolls_back_with_its_transaction(ledger: Runtime) -> None:
    def pending(subject: str) -> int:
        with ledger.db.unit_of_work(readonly=True) as s:
            return s.scalar(select(func.count()).select_from(PendingEntry).where(PendingEntry.subject == subject)) or 0

    with pytest.raises(RuntimeError), ledger.db.unit_of_work() as s:
        _append(s, subject="ROLLED-BACK-1")
        raise RuntimeError("the change fails after its entry was written")
    assert pending("ROLLED-BACK-1") == 0
    with ledger.db.unit_of_work() as s:
        _append(s, subject="COMMITTED-1")
    assert pending("COMMITTED-1") == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "Application Action"),
        ("tenant_code", "Kerala State"),
        ("subject", "Anitha K, Thampanoor"),
        ("subject", ""),
        ("actor_role", "user:1234"),
        ("content", ["not", "an", "object"]),
        ("content", {"amount": float("nan")}),
    ],
)
def test_malformed_entries_are_refused(ledger: Runtime, field: str, value: object) -> None:
    args: dict[str, object] = {
        "type": "payment.received",
        "tenant_code": "kl.tvm-corp",
        "subject": "PAY-1",
        "content": {"amount_paise": 12500},
        "actor_role": None,
    }
    args[field] = value
    with ledger.db.unit_of_work() as s, pytest.raises(entries.EntryError):
        service.append(s, **args)  # type: ignore[arg-type]


def test_parse_entry_refuses_non_canonical_or_incomplete_entries(ledger: Runtime) -> None:
    with ledger.db.unit_of_work() as s:
        body = s.get(PendingEntry, _append(s)).body  # type: ignore[union-attr]
    raw = json.loads(body)
    with pytest.raises(entries.EntryError, match="canonical"):
        entries.parse_entry(json.dumps(raw, indent=1).encode())
    with pytest.raises(entries.EntryError, match="fields"):
        entries.parse_entry(rfc8785.dumps({**raw, "name": "Anitha"}))
    with pytest.raises(entries.EntryError):
        entries.parse_entry(b"\xff")
