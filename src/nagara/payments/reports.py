"""Reports of the counter and the accounts: the day's collections per clerk and per head, a
clerk's close of the day, and the trial balance.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.kit.errors import Conflict
from nagara.payments import accounts
from nagara.payments.models import DayClose, JournalEntry, Payment, Receipt
from nagara.payments.service import require_body
from nagara.tenancy import context as tenancy


def day_report(
    session: Session, principal: Principal, local_body_code: str, day: date, *, clerk_id: str | None = None
) -> dict[str, Any]:
    """The day's collections of the counter: per clerk and per head, and the receipts' sum."""
    if not principal.may(
        "payments:accounts:read", state_code=tenancy.parse_tenant(local_body_code).state, local_body_code=local_body_code
    ):
        require_body(principal, "payments:payment:collect", local_body_code)
        clerk_id = principal.user_id  # a clerk without read access sees only their own counter
    query = (
        select(Receipt, Payment)
        .join(Payment, Payment.id == Receipt.payment_id)
        .where(Receipt.local_body_code == local_body_code, Receipt.business_date == day, Payment.channel == "counter")
        .order_by(Receipt.number)
    )
    if clerk_id:
        query = query.where(Payment.collected_by_id == clerk_id)
    clerks: dict[str, dict[str, Any]] = {}
    by_head: dict[str, int] = {}
    receipts_total = 0
    for receipt, payment in session.execute(query).all():
        sign = 1 if receipt.kind == "payment" else -1
        receipts_total += sign * receipt.amount
        row = clerks.setdefault(
            payment.collected_by_id or "",
            {"clerk": payment.collected_by_id, "count": 0, "total": 0, "by_head": {}, "by_method": {}, "receipts": []},
        )
        row["count"] += 1
        row["total"] += sign * receipt.amount
        row["by_method"][payment.method] = row["by_method"].get(payment.method, 0) + sign * receipt.amount
        row["receipts"].append(receipt.number)
        for line in receipt.lines:
            head = line["head"]
            value = sign * (-line["amount"] if head == "rebate" else line["amount"])
            row["by_head"][head] = row["by_head"].get(head, 0) + value
            by_head[head] = by_head.get(head, 0) + value
    names = (
        {str(i): u for i, u in session.execute(select(User.id, User.username).where(User.id.in_(list(clerks)))).all()}
        if clerks
        else {}
    )
    closes = {
        c.clerk_id: c.closed_at
        for c in session.scalars(
            select(DayClose).where(DayClose.local_body_code == local_body_code, DayClose.business_date == day)
        )
    }
    for row in clerks.values():
        row["username"] = names.get(row["clerk"])
        row["closed_at"] = closes.get(row["clerk"])
    return {
        "local_body": local_body_code,
        "date": day,
        "clerks": list(clerks.values()),
        "by_head": by_head,
        "total": sum(r["total"] for r in clerks.values()),
        "receipts_total": receipts_total,
    }


def close_day(session: Session, principal: Principal, local_body_code: str, day: date) -> DayClose:
    require_body(principal, "payments:payment:collect", local_body_code)
    report = day_report(session, principal, local_body_code, day, clerk_id=principal.user_id)
    mine = next((r for r in report["clerks"] if r["clerk"] == principal.user_id), None)
    closed = DayClose(
        local_body_code=local_body_code,
        business_date=day,
        clerk_id=principal.user_id,
        count=mine["count"] if mine else 0,
        total=mine["total"] if mine else 0,
        by_head=mine["by_head"] if mine else {},
        by_method=mine["by_method"] if mine else {},
    )
    try:
        with session.begin_nested():
            session.add(closed)
            session.flush()
    except IntegrityError:
        raise Conflict(f"you already closed {day.isoformat()}") from None
    return closed


def trial_balance(session: Session, principal: Principal, local_body_code: str, day: date) -> list[accounts.TrialRow]:
    require_body(principal, "payments:accounts:read", local_body_code)
    return accounts.trial_balance(session, local_body_code, day)


def journal_count(session: Session, local_body_code: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.local_body_code == local_body_code)) or 0
    )
