"""A service's fees in words: each item's condition, and what a form would pay today and why.

The citizen sees the fee before submitting (the service page, the draft's review page,
``GET /api/v1/applications/{number}/fees``), worked out by the same rules as at submission
(:func:`nagara.catalog.rules.check_fees`) on the day in the state's time zone. Texts are in the
request's language: the catalogs' words around the pack's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel import dates as babel_dates
from sqlalchemy.orm import Session

from nagara.catalog.rules import DATE_OPS, ItemCheck, check_fees, yearly_date
from nagara.tenancy.context import zone_of
from nagara.web.i18n import format_locale
from nagara.web.i18n import gettext as _
from nagara.web.templating import localised


def fee_day(session: Session, place_code: str, now: datetime) -> date:
    """The day a fee is assessed on: ``now`` in the state's time zone (as the workflow does at submission)."""
    return now.astimezone(zone_of(session, place_code)).date()


def _label(definition: dict[str, Any], field: str) -> str:
    hints = definition["form"].get("ui", {}).get("fields", {}).get(field.split(".", maxsplit=1)[0], {})
    return localised(hints.get("label")) or field


def _value(definition: dict[str, Any], field: str, value: Any) -> str:
    hints = definition["form"].get("ui", {}).get("fields", {}).get(field.split(".", maxsplit=1)[0], {})
    option = hints.get("options", {}).get(str(value))
    if option:
        return localised(option)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def _day_of_year(value: str) -> str:
    return babel_dates.format_date(yearly_date(value, 2001), format="d MMMM", locale=format_locale())


def condition_words(definition: dict[str, Any], condition: dict[str, Any]) -> str:
    """One condition as a sentence's clause, in the request's language."""
    op = condition["op"]
    if op in DATE_OPS:
        day = _day_of_year(condition["value"])
        if op == "after_date":
            return _("the application is submitted after %(date)s") % {"date": day}
        if op == "before_date":
            return _("the application is submitted before %(date)s") % {"date": day}
        return _("the application is submitted more than %(days)s days after %(date)s") % {"days": condition["days"], "date": day}
    field = _label(definition, condition["field"])
    value = condition.get("value")
    words = {
        "eq": lambda: _("%(field)s is %(value)s") % {"field": field, "value": _value(definition, condition["field"], value)},
        "ne": lambda: _("%(field)s is not %(value)s") % {"field": field, "value": _value(definition, condition["field"], value)},
        "in": lambda: _("%(field)s is one of: %(values)s")
        % {"field": field, "values": ", ".join(_value(definition, condition["field"], v) for v in value or [])},
        "gt": lambda: _("%(field)s is more than %(value)s") % {"field": field, "value": value},
        "ge": lambda: _("%(field)s is at least %(value)s") % {"field": field, "value": value},
        "lt": lambda: _("%(field)s is less than %(value)s") % {"field": field, "value": value},
        "le": lambda: _("%(field)s is at most %(value)s") % {"field": field, "value": value},
        "truthy": lambda: _("the answer to “%(field)s” is yes") % {"field": field},
        "falsy": lambda: _("the answer to “%(field)s” is not yes") % {"field": field},
        "older_than_days": lambda: _("%(field)s is more than %(days)s days before the day of submission")
        % {"field": field, "days": value},
        "not_older_than_days": lambda: _("%(field)s is at most %(days)s days before the day of submission")
        % {"field": field, "days": value},
    }
    return words[op]()


def conditions_words(definition: dict[str, Any], conditions: list[dict[str, Any]] | None) -> str | None:
    """An item's ``when`` in words ("... and ..."), or None for an item charged on every application."""
    if not conditions:
        return None
    return _(" and ").join(condition_words(definition, c) for c in conditions)


@dataclass(frozen=True)
class PreviewLine:
    code: str
    name: dict[str, str]
    head: str
    account: str | None
    amount: int  # paise charged (0 when it does not apply or is waived)
    applies: bool
    waived_by: dict[str, str] | None
    why: str
    conditions: list[dict[str, Any]]  # {"text": ..., "holds": ...}


def _why(definition: dict[str, Any], check: ItemCheck) -> str:
    when = conditions_words(definition, [c for c, _held in check.conditions])
    if check.waived_by is not None:
        return _("Waived: %(reason)s.") % {"reason": localised(check.waived_by)}
    if check.applies:
        if when is None:
            return _("Charged on every application.")
        return _("Charged, because %(conditions)s.") % {"conditions": when}
    if when is not None and not all(held for _c, held in check.conditions):
        return _("Not charged: it applies only when %(conditions)s.") % {"conditions": when}
    return _("Not charged: it comes to nothing for your answers.")


@dataclass(frozen=True)
class Preview:
    assessed_on: date
    lines: list[PreviewLine]
    total: int


def preview(definition: dict[str, Any], data: dict[str, Any], today: date) -> Preview:
    """What ``data`` would pay if submitted on ``today``, every item with why it is charged or not."""
    checks = check_fees(definition.get("fees"), data, today)
    lines = [
        PreviewLine(
            code=c.item["code"],
            name=c.item["name"],
            head=c.item.get("head", "fee"),
            account=c.item.get("account"),
            amount=c.charged,
            applies=c.applies,
            waived_by=c.waived_by,
            why=_why(definition, c),
            conditions=[{"text": condition_words(definition, cond), "holds": held} for cond, held in c.conditions],
        )
        for c in checks
    ]
    total = sum(-line.amount if line.head == "rebate" else line.amount for line in lines)
    return Preview(today, lines, total)
