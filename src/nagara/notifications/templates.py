"""The messages of a state's pack (``packs/<state>/notifications.yaml``): one per event, in every
language the pack declares, with typed variables.

An event's ``text`` is the SMS, the WhatsApp template's body, the e-mail's plain text (and, escaped,
its HTML) and the portal message; its ``subject`` is the e-mail's subject and the portal message's
title. The platform, not the pack, says which variables each event offers and how long each may be
(:data:`EVENTS`, :data:`VARIABLES`), which events are urgent (never held for quiet hours) and which
are statutory (the citizen cannot switch them off).

Pack validation (:func:`check`) refuses a text that uses a variable its event does not offer, a
malformed ``{placeholder}``, and an SMS that would take more than ``sms.max_segments`` parts with
every variable at its longest, parts counted as the networks do (``kit.smstext.segments``: GSM-7
160/153 characters, UCS-2 70/67 for Malayalam, Kannada, Hindi and Urdu).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from nagara.kit.smstext import segments

DEFAULT_MAX_SEGMENTS = 4


@dataclass(frozen=True)
class Variable:
    max_length: int  # a longer value is cut to this (with an ellipsis) before it is sent, unless a link
    meaning: str
    cut: bool = True  # False for links: a cut link leads nowhere; the SMS check counts them at max_length


VARIABLES: dict[str, Variable] = {
    "number": Variable(32, "the application's number, KL-TVMCORP-BR-2026-000042"),
    "link": Variable(100, "the page to open (the application, its fee, the inbox)", cut=False),
    "certificate_link": Variable(100, "the certificate's page", cut=False),
    "due_date": Variable(11, "a date, 06 Dec 2026"),
    "amount": Variable(14, "money in rupees, Rs 1,250.00"),
    "receipt": Variable(32, "the receipt's number"),
    "reason": Variable(60, "the officer's reason or what to correct"),
    "appeal_days": Variable(3, "days within which an appeal may be made"),
    "compensation": Variable(14, "compensation owed in rupees"),
    "due_today": Variable(5, "how many applications fall due today"),
    "overdue": Variable(5, "how many applications are overdue"),
    "code": Variable(6, "a one-time code"),
    "minutes": Variable(3, "minutes until the code expires"),
    "level": Variable(2, "the grievance's level now (1, 2, 3)"),
    "merged_into": Variable(32, "the number of the grievance it was merged into"),
}


@dataclass(frozen=True)
class EventSpec:
    variables: tuple[str, ...]
    urgent: bool = False  # sent at once, quiet hours or not
    statutory: bool = False  # the law or the decision requires it: no opt-out


EVENTS: dict[str, EventSpec] = {
    "received": EventSpec(("number", "due_date", "link")),
    "returned": EventSpec(("number", "reason", "link"), statutory=True),
    "fee_due": EventSpec(("number", "amount", "due_date", "link"), statutory=True),
    "fee_paid": EventSpec(("number", "amount", "receipt")),
    "approved": EventSpec(("number", "certificate_link"), statutory=True),
    "rejected": EventSpec(("number", "reason", "appeal_days", "link"), statutory=True),
    "overdue": EventSpec(("number", "compensation", "link")),
    "overdue_officer": EventSpec(("number", "due_date", "link")),
    "appeal_allowed": EventSpec(("number", "link"), statutory=True),
    "appeal_dismissed": EventSpec(("number", "link"), statutory=True),
    "digest": EventSpec(("due_today", "overdue", "link")),
    "sign_in_code": EventSpec(("code", "minutes"), urgent=True, statutory=True),
    # grievances (``number`` is the grievance's): to the citizen, except ``grievance_assigned`` (the officer it is with)
    "grievance_filed": EventSpec(("number", "due_date", "link")),
    "grievance_assigned": EventSpec(("number", "due_date", "link")),
    "grievance_escalated": EventSpec(("number", "level", "due_date", "link")),
    "grievance_resolved": EventSpec(("number", "link")),
    "grievance_merged": EventSpec(("number", "merged_into", "link")),
}


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of ``text``; ValueError for a brace that opens no field or a field with a format."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"{{{name}}} is not a plain variable; write a name in braces, such as {{number}}")
        names.append(name)
    return names


def longest(text: str) -> str:
    """``text`` with every variable at its longest (for the SMS length check)."""
    return text.format_map({name: "W" * v.max_length for name, v in VARIABLES.items()})


def check(document: dict[str, Any], languages: list[str]) -> list[tuple[str, str]]:
    """(path inside notifications.yaml, message) for each problem of a schema-valid document."""
    problems: list[tuple[str, str]] = []
    max_segments = int(document["sms"].get("max_segments", DEFAULT_MAX_SEGMENTS))
    for event, spec in EVENTS.items():
        definition = document["events"][event]
        for key in ("subject", "text"):
            for lang, text in definition[key].items():
                where = f"events.{event}.{key}.{lang}"
                try:
                    used = placeholders(text)
                except ValueError as exc:
                    problems.append((where, f"event {event!r}: {exc}"))
                    continue
                unknown = [name for name in used if name not in spec.variables]
                if unknown:
                    problems.append(
                        (
                            where,
                            f"event {event!r} offers no variable {', '.join(unknown)}; it offers {', '.join(spec.variables)}",
                        )
                    )
                    continue
                if key == "text" and lang in languages:
                    parts = segments(longest(text))
                    if parts.count > max_segments:
                        message = (
                            f"event {event!r}: the SMS takes {parts.count} parts ({parts.units} {parts.encoding} "
                            f"characters with every variable at its longest); at most {max_segments} "
                            f"(sms.max_segments) are allowed: shorten the text"
                        )
                        problems.append((where, message))
    return problems


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    dlt_template_id: str
    whatsapp_template: str
    parameters: list[str]  # the text's variables in order, for the WhatsApp template's body


def render(document: dict[str, Any], event: str, language: str, values: dict[str, str]) -> Rendered:
    """The event's message in ``language`` with ``values`` (each cut to its variable's length)."""
    spec = EVENTS[event]
    missing = [name for name in spec.variables if name not in values]
    if missing:
        raise KeyError(f"event {event!r} needs {', '.join(missing)}")
    clipped = {
        name: clip(str(values[name]), VARIABLES[name].max_length) if VARIABLES[name].cut else str(values[name])
        for name in spec.variables
    }
    definition = document["events"][event]
    text_template = definition["text"][language]
    return Rendered(
        subject=definition["subject"][language].format_map(clipped),
        text=text_template.format_map(clipped),
        dlt_template_id=str(definition["dlt_template_id"]),
        whatsapp_template=str(definition["whatsapp_template"]),
        parameters=[clipped[name] for name in placeholders(text_template)],
    )
