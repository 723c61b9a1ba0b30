"""The local body's double-entry accounts, with heads after the National Municipal Accounts Manual.

The NMAM (Ministry of Urban Development, 2004) numbers major heads in groups: 1xx income
(110 tax revenue, 140 fees and user charges), 3xx liabilities (350 other liabilities),
4xx assets (450 cash and bank balances). The major and minor heads below follow the manual;
the detailed codes within them (the last two digits) are this platform's choice, marked
``assumed`` in ``packs/*/SOURCES.md``: states map them to their own chart when they adopt it.

Every collection posts one balanced voucher: the money received is debited to cash or bank,
each head of the demand is credited to its income or liability account, a rebate is debited
to the remission account. A refund posts the reverse against the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nagara.payments.models import JournalEntry, JournalLine

CHART: dict[str, str] = {
    "110-01": "Property tax",
    "110-80": "Remission and refund of taxes (rebate)",
    "140-10": "Fees: registration and certificates",
    "140-11": "Fees: licences",
    "140-20": "Fees: building permits",
    "140-60": "Penalties and fines",
    "140-80": "Other fees",
    "140-90": "Refund of fees",
    "350-20": "Cess collected, payable to the authority it is levied for",
    "350-40": "Excess collections refundable",
    "450-10": "Cash on hand",
    "450-22": "Bank: payment gateway collection account",
    "450-41": "Cheques and demand drafts in hand",
}

CASH_ACCOUNT = {"cash": "450-10", "cheque": "450-41", "dd": "450-41", "gateway": "450-22", "upi": "450-22"}
DEFAULT_ACCOUNT = {"fee": "140-80", "tax": "110-01", "penalty": "140-60", "rebate": "110-80", "cess": "350-20"}
EXCESS_ACCOUNT = "350-40"


def account_for(head: str, explicit: str | None = None) -> str:
    account = explicit or DEFAULT_ACCOUNT.get(head, "140-80")
    if account not in CHART:
        raise ValueError(f"unknown account {account!r}; the chart has {', '.join(sorted(CHART))}")
    return account


# The accounts an item of each head may be booked to: income for fees, taxes and penalties, the
# remission account for a rebate, a liability for a cess collected for another authority.
ACCOUNTS_FOR_HEAD: dict[str, tuple[str, ...]] = {
    "fee": ("140-10", "140-11", "140-20", "140-60", "140-80"),
    "penalty": ("140-60",),
    "tax": ("110-01",),
    "rebate": ("110-80",),
    "cess": ("350-20",),
}


def fee_account_problems(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """A service's fee items whose ``account`` is not in the chart, or not one their head is booked to."""
    problems = []
    for i, item in enumerate(definition.get("fees", {}).get("items", [])):
        account = item.get("account")
        if account is None:
            continue
        head = item.get("head", "fee")
        allowed = ", ".join(ACCOUNTS_FOR_HEAD[head])
        if account not in CHART:
            why = f"account {account!r} is not in the chart of accounts; a {head} takes {allowed}"
            problems.append((f"fees.items[{i}].account", why))
        elif account not in ACCOUNTS_FOR_HEAD[head]:
            why = f"account {account!r} ({CHART[account]}) is not for a {head}; a {head} takes {allowed}"
            problems.append((f"fees.items[{i}].account", why))
    return problems


class Unbalanced(RuntimeError):
    pass


@dataclass(frozen=True)
class Posting:
    account: str
    debit: int = 0
    credit: int = 0


def post(
    session: Session, *, local_body_code: str, day: date, source: str, source_id: str, narration: str, postings: list[Posting]
) -> JournalEntry:
    """Write one voucher; refuses (before writing) one whose debits and credits differ."""
    postings = [p for p in postings if p.debit or p.credit]
    debits, credited = sum(p.debit for p in postings), sum(p.credit for p in postings)
    if debits != credited or debits <= 0:
        raise Unbalanced(f"voucher for {source} {source_id} does not balance: debits {debits}, credits {credited}")
    entry = JournalEntry(
        local_body_code=local_body_code, entry_date=day, source=source, source_id=source_id, narration=narration[:255]
    )
    session.add(entry)
    session.flush()
    for p in postings:
        if p.account not in CHART:
            raise ValueError(f"unknown account {p.account!r}")
        session.add(JournalLine(entry_id=entry.id, account=p.account, debit=p.debit, credit=p.credit))
    return entry


def collection_postings(method: str, amount: int, lines: list[dict[str, Any]], *, excess: bool) -> list[Posting]:
    """Dr cash or bank for what was received; Cr each head (Dr the rebate); an excess goes to a liability."""
    out = [Posting(CASH_ACCOUNT[method], debit=amount)]
    if excess:
        return [*out, Posting(EXCESS_ACCOUNT, credit=amount)]
    for line in lines:
        if line["head"] == "rebate":
            out.append(Posting(line["account"], debit=line["amount"]))
        else:
            out.append(Posting(line["account"], credit=line["amount"]))
    return out


def refund_postings(method: str, amount: int, *, excess: bool, kind: str) -> list[Posting]:
    against = EXCESS_ACCOUNT if excess else ("110-80" if kind == "property_tax" else "140-90")
    return [Posting(against, debit=amount), Posting(CASH_ACCOUNT[method], credit=amount)]


@dataclass(frozen=True)
class TrialRow:
    account: str
    name: str
    debit: int
    credit: int


def trial_balance(session: Session, local_body_code: str, day: date) -> list[TrialRow]:
    """Each account's movements on ``day``; the debit and credit columns total the same."""
    rows = session.execute(
        select(JournalLine.account, func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.local_body_code == local_body_code, JournalEntry.entry_date == day)
        .group_by(JournalLine.account)
        .order_by(JournalLine.account)
    ).all()
    return [TrialRow(a, CHART.get(a, a), int(d or 0), int(c or 0)) for a, d, c in rows]


def unbalanced_entries(session: Session) -> list[str]:
    """Vouchers whose lines do not balance (none, unless something wrote lines by hand)."""
    rows = session.execute(
        select(JournalLine.entry_id)
        .group_by(JournalLine.entry_id)
        .having(func.sum(JournalLine.debit) != func.sum(JournalLine.credit))
    ).all()
    return [r[0] for r in rows]
