"""Property tax as the pack defines it: a yearly rate per square metre of plinth area by use and
zone, levied per half-year, with cesses on the tax, a rebate for early payment and a penalty per
month of delay. Pure functions; amounts in paise, rates in basis points (1/100 of a per cent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from nagara.payments.accounts import account_for


@dataclass(frozen=True)
class Half:
    code: str  # H1 | H2
    financial_year: str  # 2026-27
    starts: date
    due: date
    rebate_until: date | None

    @property
    def period(self) -> str:
        return f"{self.financial_year}/{self.code}"


def financial_year(day: date) -> str:
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _on(year_start: int, month_day: str) -> date:
    month, day = (int(x) for x in month_day.split("-"))
    return date(year_start if month >= 4 else year_start + 1, month, day)


def half_for(rules: dict[str, Any], day: date) -> Half:
    """The half-year that ``day`` falls in, with its due and rebate dates from the rules."""
    year_start = day.year if day.month >= 4 else day.year - 1
    fy = financial_year(day)
    halves = [
        Half(
            h["code"],
            fy,
            _on(year_start, h["starts"]),
            _on(year_start, h["due"]),
            _on(year_start, h["rebate_until"]) if h.get("rebate_until") else None,
        )
        for h in rules["halves"]
    ]
    current = [h for h in halves if h.starts <= day]
    return max(current, key=lambda h: h.starts) if current else halves[0]


def parse_period(rules: dict[str, Any], period: str) -> Half:
    fy, code = period.split("/")
    start = int(fy.split("-")[0])
    spec = next((h for h in rules["halves"] if h["code"] == code), None)
    if spec is None:
        raise ValueError(f"no half-year {code!r}; the pack defines {', '.join(h['code'] for h in rules['halves'])}")
    return half_for(rules, _on(start, spec["starts"]))


def rate_for(rules: dict[str, Any], usage: str, zone: int) -> int:
    for rate in rules["rates"]:
        if rate["usage"] == usage and rate["zone"] == zone:
            return int(rate["per_sqm_year"])
    known = sorted({f"{r['usage']}/{r['zone']}" for r in rules["rates"]})
    raise ValueError(f"no property tax rate for use {usage!r} in zone {zone}; the pack has {', '.join(known)}")


def half_year_lines(rules: dict[str, Any], *, usage: str, zone: int, area_sqm: int) -> list[dict[str, Any]]:
    """The tax and its cesses for one half-year."""
    tax = (area_sqm * rate_for(rules, usage, zone) + 1) // 2
    lines: list[dict[str, Any]] = [
        {
            "code": "property-tax",
            "head": "tax",
            "account": account_for("tax"),
            "name": rules.get("name", {"en": "Property tax"}),
            "amount": tax,
        }
    ]
    for cess in rules.get("cess", []):
        amount = tax * int(cess["percent_bp"]) // 10_000
        lines.append(
            {
                "code": cess["code"],
                "head": "cess",
                "account": account_for("cess", cess.get("account")),
                "name": cess["name"],
                "amount": amount,
            }
        )
    return lines


def months_late(due: date, on: date) -> int:
    if on <= due:
        return 0
    months = (on.year - due.year) * 12 + on.month - due.month
    return max(1, months + (1 if on.day > due.day else 0))


def adjustments(
    rules: dict[str, Any], lines: list[dict[str, Any]], *, due: date, rebate_until: date | None, on: date
) -> list[dict[str, Any]]:
    """The rebate or penalty line that applies when paying on ``on`` (computed on the tax lines only)."""
    tax = sum(ln["amount"] for ln in lines if ln["head"] == "tax")
    out: list[dict[str, Any]] = []
    rebate_bp = int(rules.get("rebate_bp", 0))
    if rebate_until is not None and on <= rebate_until and rebate_bp:
        out.append(
            {
                "code": "early-payment-rebate",
                "head": "rebate",
                "account": account_for("rebate"),
                "name": {"en": f"Rebate for payment by {rebate_until.isoformat()}"},
                "amount": tax * rebate_bp // 10_000,
            }
        )
    months = min(months_late(due, on), int(rules.get("penalty_max_months", 12)))
    penalty_bp = int(rules.get("penalty_bp_per_month", 0))
    if months and penalty_bp:
        out.append(
            {
                "code": "late-payment-penalty",
                "head": "penalty",
                "account": account_for("penalty"),
                "name": {"en": f"Penalty for {months} month(s) after {due.isoformat()}"},
                "amount": tax * penalty_bp * months // 10_000,
            }
        )
    return [a for a in out if a["amount"]]


def total(lines: list[dict[str, Any]]) -> int:
    return sum(-ln["amount"] if ln["head"] == "rebate" else ln["amount"] for ln in lines)
