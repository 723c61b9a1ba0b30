"""Privacy notices and the record of processing, generated from the loaded packs (DPDP Act 2023 s.5, Rule 3).

A notice stands alone for one purpose: for a service, the personal data its form and documents
ask for (the pack's labels), the purpose (the service and what it grants), the legal basis (a
legitimate use under s.7(b): the citizen applied for the certificate, licence or permit), how long
each record class is kept, and the rights. The record of processing lists every purpose of a
state's pack the same way, with who receives the data (the roles of the service's workflow).
Both are read from the service definitions, so they change when the pack does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.tenancy.models import Role
from nagara.web.i18n import N_

# Record classes and how long each is kept. A register entry is kept for ever by the law that
# creates the register; Rule 8 asks logs of processing to be kept at least a year.
RETENTION: dict[str, tuple[str, str]] = {
    "register": (
        N_("Register entries and the certificates issued from them"),
        N_("For ever: the law of the register requires it."),
    ),
    "application": (
        N_("Your answers and the history of the application"),
        N_("As long as the register entry it made, or 3 years after a refusal or withdrawal."),
    ),
    "documents": (N_("Documents you upload"), N_("3 years after the decision.")),
    "drafts": (N_("Drafts never submitted"), N_("1 year after the last change.")),
    "sign_in": (N_("Sign-in codes and sessions"), N_("Codes 1 day; sessions until they end.")),
    "access_log": (N_("The log of who read your data"), N_("At least 1 year (Rule 8).")),
}
# The periods the erasure job applies (``privacy/retention.py``), in days; the texts above say them.
DOCUMENTS_KEPT_DAYS = 3 * 365  # after the decision
DRAFTS_KEPT_DAYS = 365  # after the last change
BASIS_LEGITIMATE_USE = N_(
    "A legitimate use under section 7(b) of the Digital Personal Data Protection Act, 2023: you applied to the "
    "local body for this service, so no separate consent is asked."
)
SIGN_IN_PURPOSE = N_("Signing you in and sending you messages about your applications")
SIGN_IN_DATA = N_("Your mobile number")
BOARD_URL = "https://www.dpb.gov.in"


@dataclass(frozen=True)
class Notice:
    service: Service
    data_items: list[Any]  # pack texts ({lang: text}) of the form's fields and documents
    output: Any | None  # the pack text of what the service grants, if it grants something
    recipients: list[Any]  # role names of the workflow, in order of first appearance
    retention: list[str]  # record class codes that apply


def _recipients(session: Session, svc: Service) -> list[Any]:
    d = svc.definition
    wf = d.get("workflow") or {}
    codes: list[str] = []
    for state in (wf.get("states") or {}).values():
        codes.append(state.get("role") or "")
    codes.append(wf.get("designated_officer") or "")
    codes += [appeal.get("role") or "" for appeal in (wf.get("appeals") or {}).values() if isinstance(appeal, dict)]
    codes = [c for c in dict.fromkeys(codes) if c and c != "applicant"]
    names = {r.code: r.name for r in session.scalars(select(Role).where(Role.state_code == svc.state_code))}
    return [names.get(code, {"en": code}) for code in codes]


def notice(session: Session, svc: Service) -> Notice:
    d = svc.definition
    form = d.get("form") or {}
    ui_fields = (form.get("ui") or {}).get("fields") or {}
    properties = (form.get("schema") or {}).get("properties") or {}
    order = list((form.get("ui") or {}).get("order") or properties)
    order += [k for k in properties if k not in order]
    items: list[Any] = [(ui_fields.get(name) or {}).get("label") or name for name in order]
    items += [doc["name"] for doc in d.get("documents") or []]
    output = (d.get("output") or {}).get("name")
    classes = ["register" if output else "application", "application", "documents", "drafts", "access_log"]
    return Notice(
        service=svc,
        data_items=items,
        output=output,
        recipients=_recipients(session, svc),
        retention=list(dict.fromkeys(classes)),
    )


def record_of_processing(session: Session, state_code: str) -> list[Notice]:
    """Every service purpose of the state's loaded pack, as its notice (sign-in is listed by the page)."""
    return [notice(session, svc) for svc in catalog.list_services(session, state_code)]
