"""Conditions and fees written as data in a service definition, evaluated without ``eval``.

A condition compares one form field with a value; a list of conditions holds
when every one does. A fee's condition may instead compare the day of assessment
(``today``: the caller passes it in the state's time zone) with a day of each year
(``after_date``, ``before_date``, ``days_after_date``: a yearly deadline). Fees are fixed,
by slab, or per unit of a numeric field, optionally conditional, with exemptions that waive
named items. Money is integer paise throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

_MISSING = object()


def field_value(data: dict[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


DATE_OPS = ("after_date", "before_date", "days_after_date")


def yearly_date(value: str, year: int) -> date:
    """``MM-DD`` in ``year``; ValueError for a day that is not in every year (02-29) or in none (04-31)."""
    month, day = (int(part) for part in value.split("-"))
    if (month, day) == (2, 29):
        raise ValueError("29 February is not in every year; use 02-28 or 03-01")
    return date(year, month, day)


def date_problem(condition: dict[str, Any]) -> str | None:
    """Why a date condition's ``value`` is not a day of each year, or None."""
    try:
        yearly_date(str(condition["value"]), 2001)
    except ValueError as exc:
        return f"{condition['value']!r} is not a day of each year (MM-DD): {exc}"
    return None


def holds(condition: dict[str, Any], data: dict[str, Any], today: date) -> bool:
    op = condition["op"]
    if op in DATE_OPS:
        deadline = yearly_date(condition["value"], today.year)
        if op == "after_date":
            return today > deadline
        if op == "before_date":
            return today < deadline
        return (today - deadline).days > int(condition["days"])
    value = field_value(data, condition["field"])
    expected = condition.get("value")
    if op == "truthy":
        return value is not _MISSING and bool(value)
    if op == "falsy":
        return value is _MISSING or not value
    if value is _MISSING:
        return False
    if op in ("older_than_days", "not_older_than_days"):
        day = _as_date(value)
        if day is None:
            return False
        age = (today - day).days
        limit = int(str(expected))
        return age > limit if op == "older_than_days" else age <= limit
    if op == "eq":
        return bool(value == expected)
    if op == "ne":
        return bool(value != expected)
    if op == "in":
        return isinstance(expected, list) and value in expected
    try:
        if op == "gt":
            return bool(value > expected)
        if op == "ge":
            return bool(value >= expected)
        if op == "lt":
            return bool(value < expected)
        if op == "le":
            return bool(value <= expected)
    except TypeError:
        return False
    raise ValueError(f"unknown condition operator {op!r}")


def all_hold(conditions: list[dict[str, Any]] | None, data: dict[str, Any], today: date) -> bool:
    return all(holds(c, data, today) for c in conditions or [])


@dataclass(frozen=True)
class FeeLine:
    code: str
    name: dict[str, str]
    head: str
    amount: int  # paise
    waived_by: dict[str, str] | None = None
    account: str | None = None  # the chart of accounts' head; None books to the head's default


def _item_amount(item: dict[str, Any], data: dict[str, Any]) -> int:
    kind = item["kind"]
    if kind == "fixed":
        return int(item["amount"])
    quantity = field_value(data, item["field"])
    if quantity is _MISSING or not isinstance(quantity, int | float):
        return 0
    if kind == "slab":
        for slab in item["slabs"]:
            if slab["upto"] is None or quantity <= slab["upto"]:
                return int(slab["amount"])
        return int(item["slabs"][-1]["amount"])
    amount = int(round(quantity * item["rate"]))  # noqa: RUF046 - quantity may be a float
    if "minimum" in item:
        amount = max(amount, int(item["minimum"]))
    if "maximum" in item:
        amount = min(amount, int(item["maximum"]))
    return amount


def _waivers(fees: dict[str, Any], data: dict[str, Any], today: date) -> dict[str, dict[str, str]]:
    """Item code -> the reason of the first exemption that holds for this form and waives it."""
    waivers: dict[str, dict[str, str]] = {}
    for exemption in fees.get("exemptions", []):
        if all_hold(exemption["when"], data, today):
            for code in exemption["waives"]:
                waivers.setdefault(code, exemption["reason"])
    return waivers


def assess_fees(fees: dict[str, Any] | None, data: dict[str, Any], today: date) -> list[FeeLine]:
    """The fee lines that apply to this form; waived lines are kept with amount 0 and the reason."""
    fees = fees or {}
    waivers = _waivers(fees, data, today)
    lines = []
    for item in fees.get("items", []):
        if not all_hold(item.get("when"), data, today):
            continue
        amount = _item_amount(item, data)
        waived = waivers.get(item["code"])
        if amount == 0 and waived is None:
            continue
        lines.append(
            FeeLine(item["code"], item["name"], item.get("head", "fee"), 0 if waived else amount, waived, item.get("account"))
        )
    return lines


@dataclass(frozen=True)
class ItemCheck:
    """One fee item against one form: whether each condition holds, whether it is charged, and how much."""

    item: dict[str, Any]
    conditions: list[tuple[dict[str, Any], bool]]
    amount: int  # what the item comes to for the form (before a waiver); 0 when its conditions do not hold
    waived_by: dict[str, str] | None

    @property
    def applies(self) -> bool:
        return all(held for _, held in self.conditions) and self.amount > 0

    @property
    def charged(self) -> int:
        return 0 if self.waived_by is not None or not self.applies else self.amount


def check_fees(fees: dict[str, Any] | None, data: dict[str, Any], today: date) -> list[ItemCheck]:
    """Every fee item, charged or not, with why: what :func:`assess_fees` decides, item by item."""
    fees = fees or {}
    waivers = _waivers(fees, data, today)
    out = []
    for item in fees.get("items", []):
        conditions = [(c, holds(c, data, today)) for c in item.get("when", [])]
        amount = _item_amount(item, data) if all(h for _, h in conditions) else 0
        out.append(ItemCheck(item, conditions, amount, waivers.get(item["code"]) if amount else None))
    return out


def total(lines: list[FeeLine]) -> int:
    return sum(line.amount if line.head != "rebate" else -line.amount for line in lines)
