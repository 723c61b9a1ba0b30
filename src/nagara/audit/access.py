"""Who looked at whose personal data (DPDP Act 2023 s.8(5) and s.11; Rules 2025, Rule 6).

Every read of a citizen's personal data by anyone else (an officer, an operator, a partner) is
one :class:`AccessLogEntry`: the role they read it in, the place, the record, the purpose and
the time. A citizen reading their own data is not logged. A read (a GET) may not write, so the
entry is written after it commits (:func:`nagara.kit.db.write_after`); a write records it in
its own transaction. One unit of work records a record once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.audit.models import AccessLogEntry
from nagara.kit import context
from nagara.kit.access import Principal
from nagara.kit.db import memo, new_id, utcnow, write_after

_SEEN = "nagara.audit.access.seen"
REASON_MAX = 500


def role_at(principal: Principal, state_code: str, local_body_code: str | None, ward_code: str | None) -> str:
    """The role the principal reads a record of that place in: a jurisdiction role covering it, else their first."""
    covering = [g.role for g in principal.grants if g.scope != "self" and g.covers(state_code, local_body_code, ward_code)]
    if covering:
        return covering[0]
    return principal.grants[0].role if principal.grants else principal.kind


def record_read(
    session: Session,
    principal: Principal | None,
    *,
    subject_id: str | None,
    state_code: str,
    local_body_code: str | None,
    ward_code: str | None = None,
    record_type: str,
    record_ref: str,
    purpose: str,
    action: str = "read",
    reason: str | None = None,
) -> None:
    """Log that ``principal`` read ``subject_id``'s personal data in this record (nothing when it is their own)."""
    if principal is None or subject_id is None or subject_id == principal.user_id:
        return
    key = (subject_id, record_type, record_ref, action, reason)
    seen: set[tuple[str, str, str, str, str | None]] = memo(session).setdefault(_SEEN, set())
    if key in seen:
        return
    seen.add(key)
    entry = AccessLogEntry(
        id=new_id(),
        at=utcnow(),
        subject_id=subject_id,
        viewer_id=principal.user_id,
        viewer_kind=principal.kind,
        role=role_at(principal, state_code, local_body_code, ward_code),
        state_code=state_code,
        local_body_code=local_body_code,
        record_type=record_type,
        record_ref=record_ref,
        purpose=purpose,
        action=action,
        reason=reason[:REASON_MAX] if reason else None,
        request_id=context.current().request_id or None,
    )
    write_after(session, lambda s: s.add(entry))


def entries_about(session: Session, subject_id: str, *, limit: int = 200, offset: int = 0) -> list[AccessLogEntry]:
    """The log of reads of one person's data, newest first."""
    query = (
        select(AccessLogEntry)
        .where(AccessLogEntry.subject_id == subject_id)
        .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


# Mobile numbers and identity numbers are masked on officers' pages unless an officer asks to see
# one, giving a reason that is logged (``action="reveal"``). A form field is masked by its name.
_MASKED_NAMES = ("mobile", "aadhaar", "aadhaar_number", "id_number", "pan", "voter_id", "passport_number")


def is_masked_field(name: str) -> bool:
    """A form field holding a mobile or identity number: ``mobile``, ``*_mobile``, ``aadhaar``, ``*_id_number``..."""
    return any(name == masked or name.endswith("_" + masked) for masked in _MASKED_NAMES)


def mask(value: object) -> str:
    """All but the last four characters hidden: ``+919847000001`` is ``•••••••••0001``."""
    text = str(value)
    keep = 4 if len(text) > 6 else 0
    return "•" * (len(text) - keep) + text[len(text) - keep :]
