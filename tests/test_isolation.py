"""Access control across every route: the route table, not a hand-picked few.

Every /api/v1 route must be listed here (a new route fails the test until it
is), must refuse callers without credentials unless it is public, and must not
let an officer of one local body, an officer of another state or a citizen
read or act on another's records.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.app import PUBLIC_API_ROUTES, api_route_table
from nagara.applications.models import Application
from nagara.audit.models import AuditEvent
from nagara.exchange import service as exchange
from nagara.exchange.models import Member, Transfer
from nagara.identity.models import AuthToken, RoleAssignment
from nagara.kit.db import new_id, utcnow
from nagara.notifications.models import Notification
from nagara.payments import demands as payments
from nagara.payments.models import Demand
from nagara.payments.service import local_day
from tests.applications.helpers import PDF, birth_form
from tests.applications.test_workbench import submitted
from tests.certificates.helpers import approved_birth, certificate
from tests.conftest import People


@dataclass
class Call:
    path_params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    owner: str = "a_secretary"  # who may make this call: the positive control


# How to aim each protected route at the records of local body A (and citizen 1).
# kind "foreign": the call targets A's records; "self": the route acts on the caller only.
Spec = tuple[str, Callable[[People], Call]]


def _assignment_of(people: People, user: str) -> str:
    with people.runtime.db.unit_of_work() as s:
        return str(s.scalar(select(RoleAssignment.id).where(RoleAssignment.user_id == people.users[user].id)))


def _message_of(people: People, user: str) -> str:
    """The id of a portal message to ``user`` (citizen 1), made once."""
    cached = getattr(people, "_message", None)
    if cached:
        return str(cached)
    with people.runtime.db.unit_of_work() as s:
        row = Notification(
            id=new_id(),
            user_id=people.users[user].id,
            state_code="kl",
            local_body_code=people.body_a,
            event="received",
            channel="portal",
            language="en",
            dedupe_key=f"isolation:{user}",
            subject="Application received",
            body="Application received",
            status="delivered",
            expires_at=utcnow(),
        )
        s.add(row)
    people._message = row.id  # type: ignore[attr-defined]
    return row.id


def _token_of(people: People, user: str) -> str:
    """The id of a bearer token of ``user`` (one of A's officers), made once."""
    cached = getattr(people, "_a_token", None)
    if cached:
        return str(cached)
    people.token(user)
    with people.runtime.db.unit_of_work() as s:
        token_id = str(
            s.scalar(select(AuthToken.id).where(AuthToken.user_id == people.users[user].id).order_by(AuthToken.created_at))
        )
    people._a_token = token_id  # type: ignore[attr-defined]
    return token_id


def _records_of_a(people: People) -> dict[str, str]:
    """Citizen 1's applications at body A: a draft with a document, and a submitted one."""
    cached = getattr(people, "_a_records", None)
    if cached:
        return cached  # type: ignore[no-any-return]

    client = people.client
    h = people.headers("citizen1")
    draft = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": {}, "submit": False},
        headers=h,
    ).json()
    doc = client.post(
        f"/api/v1/applications/{draft['number']}/documents",
        data={"type": "parent-id"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        headers=h,
    ).json()
    spare = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": {}, "submit": False},
        headers=h,
    ).json()
    spare_doc = client.post(
        f"/api/v1/applications/{spare['number']}/documents",
        data={"type": "parent-id"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        headers=h,
    ).json()
    sub = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": birth_form(), "submit": False},
        headers=h,
    ).json()
    for code in ("birth-report", "parent-id"):
        client.post(
            f"/api/v1/applications/{sub['number']}/documents",
            data={"type": code},
            files={"file": ("a.pdf", PDF, "application/pdf")},
            headers=h,
        )
    submitted = client.post(
        f"/api/v1/applications/{sub['number']}/actions", json={"action": "submit", "version": sub["version"]}, headers=h
    ).json()
    records = {
        "draft": draft["number"],
        "draft_version": str(draft["version"]),
        "doc": doc["id"],
        "spare": spare["number"],
        "spare_version": str(spare["version"]),
        "spare_doc": spare_doc["id"],
        "submitted": submitted["number"],
        "submitted_version": str(submitted["version"]),
    }
    people._a_records = records  # type: ignore[attr-defined]
    return records


def _payments_of_a(people: People) -> dict[str, str]:
    """Citizen 1's property tax demands at body A: one paid at the counter, one being paid online, one due."""
    cached = getattr(people, "_a_payments", None)
    if cached:
        return cached  # type: ignore[no-any-return]

    owner = people.users["citizen1"].id
    with people.runtime.db.unit_of_work() as s:
        for n in (1, 2, 3):
            payments.register_property(
                s,
                local_body_code=people.body_a,
                assessment_number=f"ISO/{n}",
                usage="residential",
                zone=1,
                plinth_area_sqm=100,
                owner_id=owner,
            )
        payments.raise_property_demands(s, people.body_a)
        demands = list(s.scalars(select(Demand).where(Demand.local_body_code == people.body_a).order_by(Demand.number)))
        day = local_day(s, "kl", utcnow())
        dues = [payments.amount_due(s, d, day)[0] for d in demands]
        numbers = [d.number for d in demands]
    h = people.headers("a_counter_clerk")
    receipt = people.client.post(
        f"/api/v1/demands/{numbers[0]}/counter-payments", json={"method": "cash", "amount": dues[0]}, headers=h
    ).json()
    online = people.client.post(f"/api/v1/demands/{numbers[1]}/payments", json={}, headers=people.headers("citizen1")).json()
    records = {
        "paid_demand": numbers[0],
        "receipt": receipt["number"],
        "paid_payment": receipt["payment"],
        "online_demand": numbers[1],
        "online_payment": online["id"],
        "due_demand": numbers[2],
        "due_amount": str(dues[2]),
    }
    people._a_payments = records  # type: ignore[attr-defined]
    return records


def _bulk_target_of_a(people: People) -> dict[str, Any]:
    """Another of citizen 1's submitted applications at body A, read now, for the bulk action."""

    number = getattr(people, "_bulk_number", None)
    if number is None:
        number = submitted(people.client, people)["number"]
        people._bulk_number = number  # type: ignore[attr-defined]
    with people.runtime.db.unit_of_work(readonly=True) as s:
        version = s.scalar(select(Application.version).where(Application.number == number))
    return {"number": number, "version": version}


def _event_of(people: People) -> str:
    with people.runtime.db.unit_of_work() as s:
        return str(s.scalar(select(AuditEvent.id).where(AuditEvent.tenant_code == people.body_a).limit(1)))


def _grievances_of_a(people: People) -> dict[str, Any]:
    """Citizen 1's public grievances at body A, one for each route that changes one, read now."""
    cached = getattr(people, "_a_grievances", None)
    if cached:
        return cached  # type: ignore[no-any-return]
    body = {
        "category": "waste-not-collected",
        "description": "Waste not collected near the market.",
        "address": "Market road",
        "attributes": {"waste_kind": "household"},
    }
    made: dict[str, Any] = {}
    for key in ("read", "act", "resolve", "photo", "bulk"):
        g = people.client.post(
            f"/api/v1/tenants/{people.body_a}/grievances", json=body, headers=people.headers("citizen1")
        ).json()
        made[key] = g["number"]
        made[f"{key}_version"] = g["version"]
    people._a_grievances = made  # type: ignore[attr-defined]
    return made


def _photo() -> bytes:
    from tests.grievances.helpers import jpeg_with_gps  # noqa: PLC0415 - only the grievance routes need it

    return jpeg_with_gps()


ROUTES: dict[tuple[str, str], Spec] = {
    ("POST", "/api/v1/auth/logout"): ("self", lambda p: Call()),
    ("GET", "/api/v1/me"): ("self", lambda p: Call()),
    ("PATCH", "/api/v1/me"): ("self", lambda p: Call(json={"language": "en"})),
    ("POST", "/api/v1/me/tokens"): ("self", lambda p: Call(json={"label": "script"})),
    ("POST", "/api/v1/me/password"): (
        "self",
        lambda p: Call(json={"current_password": "not the current one", "password": "a fresh passphrase of mine"}),
    ),
    ("GET", "/api/v1/users"): ("foreign", lambda p: Call(query={"local_body": p.body_a})),
    ("POST", "/api/v1/users"): (
        "foreign",
        lambda p: Call(
            json={
                "state": "kl",
                "username": "intruder.made",
                "name": "X",
                "password": "a-long-password-1",
                "role": "section_clerk",
                "local_body": p.body_a,
            }
        ),
    ),
    ("GET", "/api/v1/users/{user_id}"): ("foreign", lambda p: Call({"user_id": p.users["a_officer"].id})),
    ("POST", "/api/v1/users/{user_id}/password"): (
        "foreign",
        lambda p: Call({"user_id": p.users["a_officer"].id}, json={"password": "reset by the secretary 2026"}),
    ),
    ("POST", "/api/v1/users/{user_id}/roles"): (
        "foreign",
        lambda p: Call({"user_id": p.users["a_officer"].id}, json={"role": "section_clerk", "local_body": p.body_a}),
    ),
    ("DELETE", "/api/v1/users/{user_id}/roles/{assignment_id}"): (
        "foreign",
        lambda p: Call({"user_id": p.users["a_officer"].id, "assignment_id": _assignment_of(p, "a_officer")}),
    ),
    ("GET", "/api/v1/me/tokens"): ("self", lambda p: Call()),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): (
        "foreign",
        lambda p: Call({"token_id": _token_of(p, "a_officer")}, owner="a_officer"),
    ),
    ("GET", "/api/v1/users/{user_id}/tokens"): (
        "foreign",
        lambda p: Call({"user_id": p.users["a_officer"].id}) if _token_of(p, "a_officer") else Call(),
    ),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): (
        "foreign",
        lambda p: Call({"user_id": p.users["a_officer"].id, "token_id": _token_of(p, "a_officer")}),
    ),
    # Disabled, then enabled again (in this order), so later calls made as the clerk still work.
    ("POST", "/api/v1/users/{user_id}/disable"): ("foreign", lambda p: Call({"user_id": p.users["a_section_clerk"].id})),
    ("POST", "/api/v1/users/{user_id}/enable"): ("foreign", lambda p: Call({"user_id": p.users["a_section_clerk"].id})),
    ("GET", "/api/v1/audit-events"): ("foreign", lambda p: Call()),
    ("GET", "/api/v1/notifications"): ("self", lambda p: Call()),
    ("POST", "/api/v1/notifications/read"): ("self", lambda p: Call()),
    ("POST", "/api/v1/notifications/{message_id}/read"): (
        "foreign",
        lambda p: Call({"message_id": _message_of(p, "citizen1")}, owner="citizen1"),
    ),
    ("GET", "/api/v1/me/notification-preferences"): ("self", lambda p: Call()),
    ("PUT", "/api/v1/me/notification-preferences"): ("self", lambda p: Call(json={"channels": ["sms"]})),
    ("GET", "/api/v1/states/{state}/notifications/delivery"): ("foreign", lambda p: Call({"state": "kl"}, owner="kl_admin")),
    ("POST", "/api/v1/tenants/{tenant}/applications"): (
        "self",  # a citizen may apply at any local body of the state; officers only on a citizen's behalf
        lambda p: Call({"tenant": p.body_a}, json={"service": "birth-registration", "data": {}, "submit": False}),
    ),
    ("GET", "/api/v1/applications"): ("foreign", lambda p: Call(query={"local_body": p.body_a}) if _records_of_a(p) else Call()),
    ("GET", "/api/v1/applications.csv"): (
        "foreign",
        lambda p: Call(query={"local_body": p.body_a}) if _records_of_a(p) else Call(),
    ),
    ("GET", "/api/v1/applications/{number}"): ("foreign", lambda p: Call({"number": _records_of_a(p)["submitted"]})),
    ("GET", "/api/v1/applications/{number}/fees"): (
        "foreign",
        lambda p: Call({"number": _records_of_a(p)["draft"]}, owner="citizen1"),
    ),
    ("PATCH", "/api/v1/applications/{number}"): (
        "foreign",
        lambda p: Call(
            {"number": _records_of_a(p)["draft"]},
            json={"data": {"child_name": "X"}, "version": int(_records_of_a(p)["draft_version"])},
            owner="citizen1",
        ),
    ),
    ("POST", "/api/v1/applications/{number}/actions"): (
        "foreign",
        lambda p: Call(
            {"number": _records_of_a(p)["submitted"]},
            json={"action": "return", "version": int(_records_of_a(p)["submitted_version"]), "comment": "check the name"},
            owner="a_section_clerk",
        ),
    ),
    ("POST", "/api/v1/applications/{number}/documents"): (
        "foreign",
        lambda p: Call(
            {"number": _records_of_a(p)["draft"]},
            data={"type": "birth-report"},
            files={"file": ("b.pdf", _pdf(), "application/pdf")},
            owner="citizen1",
        ),
    ),
    ("DELETE", "/api/v1/applications/{number}/documents/{doc_id}"): (
        "foreign",
        lambda p: Call(
            {"number": _records_of_a(p)["spare"], "doc_id": _records_of_a(p)["spare_doc"]},
            query={"version": _records_of_a(p)["spare_version"]},
            owner="citizen1",
        ),
    ),
    ("GET", "/api/v1/applications/{number}/documents/{doc_id}"): (
        "foreign",
        lambda p: Call({"number": _records_of_a(p)["draft"], "doc_id": _records_of_a(p)["doc"]}),
    ),
    ("GET", "/api/v1/inbox"): ("foreign", lambda p: Call(owner="a_section_clerk") if _records_of_a(p) else Call()),
    ("GET", "/api/v1/inbox.csv"): ("foreign", lambda p: Call(owner="a_section_clerk") if _records_of_a(p) else Call()),
    ("GET", "/api/v1/audit-events/{event_id}"): ("foreign", lambda p: Call({"event_id": _event_of(p)})),
    ("GET", "/api/v1/demands"): ("foreign", lambda p: Call(query={"local_body": p.body_a}) if _payments_of_a(p) else Call()),
    ("GET", "/api/v1/demands/{number}"): ("foreign", lambda p: Call({"number": _payments_of_a(p)["paid_demand"]})),
    ("POST", "/api/v1/demands/{number}/payments"): (
        "foreign",
        lambda p: Call({"number": _payments_of_a(p)["online_demand"]}, json={"method": "gateway"}, owner="citizen1"),
    ),
    ("POST", "/api/v1/demands/{number}/counter-payments"): (
        "foreign",
        lambda p: Call(
            {"number": _payments_of_a(p)["due_demand"]},
            json={"method": "cash", "amount": int(_payments_of_a(p)["due_amount"])},
            owner="a_counter_clerk",
        ),
    ),
    ("GET", "/api/v1/payments/{payment_id}"): ("foreign", lambda p: Call({"payment_id": _payments_of_a(p)["paid_payment"]})),
    ("GET", "/api/v1/payments/{payment_id}/upi-qr"): (
        "foreign",
        lambda p: Call({"payment_id": _payments_of_a(p)["online_payment"]}, owner="citizen1"),
    ),
    ("POST", "/api/v1/payments/{payment_id}/refunds"): (
        "foreign",
        lambda p: Call({"payment_id": _payments_of_a(p)["paid_payment"]}, json={"amount": 100, "reason": "overcharged"}),
    ),
    ("GET", "/api/v1/receipts/{number}"): ("foreign", lambda p: Call({"number": _payments_of_a(p)["receipt"]})),
    ("GET", "/api/v1/receipts/{number}/pdf"): ("foreign", lambda p: Call({"number": _payments_of_a(p)["receipt"]})),
    ("POST", "/api/v1/local-bodies/{code}/property-tax/demands"): (
        "foreign",
        lambda p: Call({"code": p.body_a}, json={"period": "2026-27/H2"}),
    ),
    ("GET", "/api/v1/local-bodies/{code}/counter/day-report"): ("foreign", lambda p: Call({"code": p.body_a})),
    ("POST", "/api/v1/local-bodies/{code}/counter/day-close"): (
        "foreign",
        lambda p: Call({"code": p.body_a}, json={}, owner="a_counter_clerk"),
    ),
    ("GET", "/api/v1/local-bodies/{code}/accounts/trial-balance"): ("foreign", lambda p: Call({"code": p.body_a})),
    ("GET", "/api/v1/applications/{number}/certificate"): ("foreign", lambda p: Call({"number": _certified_of_a(p)})),
    ("GET", "/api/v1/applications/{number}/certificate.pdf"): ("foreign", lambda p: Call({"number": _certified_of_a(p)})),
    ("GET", "/api/v1/applications/{number}/certificate/credential"): (
        "foreign",
        lambda p: Call({"number": _certified_of_a(p)}),
    ),
    ("POST", "/api/v1/applications/{number}/certificate/suspend"): (
        "foreign",
        lambda p: Call({"number": _certified_of_a(p)}, json={"reason": "under inquiry"}),
    ),
    ("POST", "/api/v1/applications/{number}/certificate/reinstate"): (
        "foreign",
        lambda p: Call({"number": _certified_of_a(p, suspended=True)}, json={"reason": "inquiry closed"}),
    ),
    ("POST", "/api/v1/applications/{number}/certificate/reissue"): (
        "foreign",
        lambda p: Call({"number": _certified_of_a(p)}, json={"reason": "name misspelt", "corrections": {"child_name": "Anna"}}),
    ),
    ("POST", "/api/v1/applications/{number}/certificate/revoke"): (
        "foreign",
        lambda p: Call({"number": _certified_of_a(p)}, json={"reason": "issued in error"}),
    ),
    ("POST", "/api/v1/applications/bulk-actions"): (
        "foreign",
        lambda p: Call(
            json={"action": "return", "comment": "the parent's ID is unreadable", "items": [_bulk_target_of_a(p)]},
            owner="a_section_clerk",
        ),
    ),
    ("GET", "/api/v1/inbox/falls-due"): ("foreign", lambda p: Call(owner="a_officer") if _records_of_a(p) else Call()),
    ("GET", "/api/v1/local-bodies/{code}/service-settings"): ("foreign", lambda p: Call({"code": p.body_a})),
    ("GET", "/api/v1/states/{state}/pack-status"): ("foreign", lambda p: Call({"state": "kl"}, owner="kl_admin")),
    ("GET", "/api/v1/exchange/members"): ("foreign", lambda p: Call(owner="kl_admin") if _member_of_kl(p) else Call()),
    ("POST", "/api/v1/exchange/members"): (
        "foreign",
        lambda p: Call(
            json={"identifier": "IN/GOV/KL-ISO/new", "name": "New", "did": "did:web:new.example", "state": "kl"}, owner="kl_admin"
        ),
    ),
    ("GET", "/api/v1/exchange/members/{instance}/{klass}/{member}/{subsystem}"): (
        "foreign",
        lambda p: Call(_member_of_kl(p), owner="kl_admin"),
    ),
    ("PATCH", "/api/v1/exchange/members/{instance}/{klass}/{member}/{subsystem}"): (
        "foreign",
        lambda p: Call(_member_of_kl(p), json={"requests_per_minute": 60}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/exchange/members/{instance}/{klass}/{member}/{subsystem}/keys"): (
        "foreign",
        lambda p: Call(_member_of_kl(p), json=_new_key(), owner="kl_admin"),
    ),
    ("POST", "/api/v1/exchange/members/{instance}/{klass}/{member}/{subsystem}/keys/retire"): (
        "foreign",
        lambda p: Call(_member_of_kl(p), json={"key_id": _ISO_KEY, "public_key": "x"}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/exchange/consents"): (
        "foreign",
        lambda p: (
            Call(
                json={
                    "member": _ISO_MEMBER,
                    "service": "certificate-credential",
                    "resource": _certificate_of_a(p),
                    "purpose": "service-application",
                },
                owner="citizen1",
            )
            if _member_of_kl(p)
            else Call()
        ),
    ),
    ("GET", "/api/v1/exchange/consents"): ("self", lambda p: Call()),
    ("DELETE", "/api/v1/exchange/consents/{consent_id}"): (
        "foreign",
        lambda p: Call({"consent_id": _consent_of_citizen1(p)}, owner="citizen1"),
    ),
    ("GET", "/api/v1/exchange/access-log"): ("self", lambda p: Call()),
    ("GET", "/api/v1/me/access-log"): ("self", lambda p: Call()),  # privacy: reads of the caller's own data
    ("GET", "/api/v1/me/erasure"): ("self", lambda p: Call()),  # privacy: what of the caller's own may be erased
    ("GET", "/api/v1/me/consents"): ("self", lambda p: Call()),  # privacy: the caller's own consents
    ("POST", "/api/v1/me/consents"): ("self", lambda p: Call(json={"purpose": "analytics.research"}, owner="citizen1")),
    ("GET", "/api/v1/me/consents/{consent_id}"): (
        "foreign",  # citizen 1's consent artefact: only citizen 1 reads it
        lambda p: Call({"consent_id": _privacy_consent_of_citizen1(p)}, owner="citizen1"),
    ),
    ("DELETE", "/api/v1/me/consents/{consent_id}"): (
        "foreign",  # only citizen 1 withdraws citizen 1's consent
        lambda p: Call({"consent_id": _privacy_consent_of_citizen1(p)}, owner="citizen1"),
    ),
    ("GET", "/api/v1/privacy/breaches"): ("foreign", lambda p: Call(owner="kl_admin") if _breach_of_a(p) else Call()),
    ("POST", "/api/v1/privacy/breaches"): (
        "foreign",  # a breach at body A: entered by Kerala's data protection officer only
        lambda p: Call(
            json={"tenant": p.body_a, "title": "Lost file", "description": "A paper file went missing."}, owner="kl_admin"
        ),
    ),
    ("GET", "/api/v1/privacy/breaches/{breach_id}"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/privacy/breaches/{breach_id}/assessment"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, json={"measures": "The room is locked."}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/privacy/breaches/{breach_id}/notify-people"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/privacy/breaches/{breach_id}/board-intimation"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/privacy/breaches/{breach_id}/cert-in-report"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, owner="kl_admin"),
    ),
    ("POST", "/api/v1/privacy/breaches/{breach_id}/report"): (
        "foreign",
        lambda p: Call({"breach_id": _breach_of_a(p)}, json=dict.fromkeys(_REPORT_ITEMS, "Stated."), owner="kl_admin"),
    ),
    ("POST", "/api/v1/me/erasure"): (
        "foreign",  # erasing citizen 1's draft: only citizen 1 may
        lambda p: Call(json={"application": _records_of_a(p)["spare"]}, owner="citizen1"),
    ),
    ("POST", "/api/v1/exchange/pulls"): (
        "self",
        lambda p: Call(json={"member": "IN/GOV/KL-ISO/none", "service": "certificate-verify", "purpose": "x", "number": "N-1"}),
    ),
    ("POST", "/api/v1/exchange/moves"): ("self", lambda p: Call(json={"member": "IN/GOV/KL-ISO/none", "to_body": "ka.nowhere"})),
    ("GET", "/api/v1/exchange/transfers"): ("self", lambda p: Call()),
    ("GET", "/api/v1/exchange/local-bodies/{code}/transfers"): ("foreign", lambda p: Call({"code": p.body_a})),
    ("POST", "/api/v1/exchange/transfers/{transfer_id}/decision"): (
        "foreign",
        lambda p: Call({"transfer_id": _transfer_to_a(p)}, json={"accept": True, "reason": "records verified"}),
    ),
    ("POST", "/api/v1/tenants/{tenant}/grievances"): (
        "self",  # a citizen files at any local body of the state; officers only for a caller
        lambda p: Call(
            {"tenant": p.body_a},
            json={
                "category": "streetlight",
                "description": "Dark",
                "address": "Lane 2",
                "attributes": {"problem": "off-at-night"},
            },
        ),
    ),
    ("GET", "/api/v1/grievances"): ("foreign", lambda p: Call(owner="a_officer") if _grievances_of_a(p) else Call()),
    ("GET", "/api/v1/grievances/{number}"): (
        "foreign",
        lambda p: Call({"number": _grievances_of_a(p)["read"]}, owner="a_officer"),
    ),
    ("POST", "/api/v1/grievances/{number}/actions"): (
        "foreign",
        lambda p: Call(
            {"number": _grievances_of_a(p)["act"]},
            json={"action": "start", "version": _grievances_of_a(p)["act_version"]},
            owner="a_officer",
        ),
    ),
    ("POST", "/api/v1/grievances/{number}/resolution"): (
        "foreign",
        lambda p: Call(
            {"number": _grievances_of_a(p)["resolve"]},
            data={"version": str(_grievances_of_a(p)["resolve_version"]), "comment": "Cleared"},
            files={"photo": ("after.jpg", _photo(), "image/jpeg")},
            owner="a_officer",
        ),
    ),
    ("POST", "/api/v1/grievances/{number}/photos"): (
        "foreign",
        lambda p: Call(
            {"number": _grievances_of_a(p)["photo"]}, files={"photo": ("a.jpg", _photo(), "image/jpeg")}, owner="citizen1"
        ),
    ),
    ("POST", "/api/v1/grievances/{number}/me-too"): (
        "self",  # any citizen may support a public grievance; it names only public facts
        lambda p: Call({"number": _grievances_of_a(p)["read"]}),
    ),
    ("POST", "/api/v1/grievances/bulk-assign"): (
        "foreign",
        lambda p: Call(
            json={"numbers": [_grievances_of_a(p)["bulk"]], "to_user": p.users["a_section_clerk"].id}, owner="a_officer"
        ),
    ),
    ("POST", "/api/v1/tenants/{tenant}/consent-codes"): (
        "foreign",
        lambda p: Call({"tenant": p.body_a}, json={"service": "birth-registration", "mobile": "9847077777"}, owner="a_operator"),
    ),
}


_ISO_MEMBER = "IN/GOV/KL-ISO/portal"
_ISO_KEY = "did:web:iso.example#k1"


def _new_key() -> dict[str, str]:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"key_id": f"did:web:iso.example#k{secrets.token_hex(4)}", "public_key": exchange.b64url(key)}


def _member_of_kl(people: People) -> dict[str, str]:
    """An exchange member managed by Kerala's administrator, as path parameters."""
    if not getattr(people, "_iso_member", None):
        with people.runtime.db.unit_of_work() as s:
            exchange.register_member(
                s,
                None,
                identifier=_ISO_MEMBER,
                name="Isolation",
                did="did:web:iso.example",
                state_code="kl",
                services=["certificate-credential"],
                purposes=["service-application"],
                keys={_ISO_KEY: _new_key()["public_key"]},
            )
        people._iso_member = True  # type: ignore[attr-defined]
    return dict(zip(("instance", "klass", "member", "subsystem"), _ISO_MEMBER.split("/"), strict=True))


def _transfer_to_a(people: People) -> str:
    """A transfer of records received from another member for body A."""
    cached = getattr(people, "_iso_transfer", None)
    if cached:
        return str(cached)
    _member_of_kl(people)
    with people.runtime.db.unit_of_work() as s:
        member_id = s.scalar(select(Member.id).where(Member.identifier == _ISO_MEMBER))
        transfer = Transfer(
            direction="in", member_id=member_id, to_body=people.body_a, status="received", state_code="kl", record_count=1
        )
        s.add(transfer)
        s.flush()
        people._iso_transfer = transfer.id  # type: ignore[attr-defined]
    return str(people._iso_transfer)  # type: ignore[attr-defined]


def _certificate_of_a(people: People) -> str:
    number = _certified_of_a(people)
    return str(certificate(people.client, people, "citizen1", number)["number"])


def _consent_of_citizen1(people: People) -> str:
    cached = getattr(people, "_iso_consent", None)
    if cached:
        return str(cached)
    _member_of_kl(people)
    response = people.client.post(
        "/api/v1/exchange/consents",
        json={
            "member": _ISO_MEMBER,
            "service": "certificate-credential",
            "resource": _certificate_of_a(people),
            "purpose": "service-application",
        },
        headers=people.headers("citizen1"),
    )
    assert response.status_code == 201, response.text
    people._iso_consent = response.json()["id"]  # type: ignore[attr-defined]
    return str(people._iso_consent)  # type: ignore[attr-defined]


_REPORT_ITEMS = ("description", "facts", "mitigation", "findings", "remedial", "intimations")


def _breach_of_a(people: People) -> str:
    """A breach at body A, assessed (what to tell people) and intimated to the Board, so every step can follow."""
    cached = getattr(people, "_iso_breach", None)
    if cached:
        return str(cached)
    admin = people.headers("kl_admin")
    made = people.client.post(
        "/api/v1/privacy/breaches",
        json={"tenant": people.body_a, "title": "Lost file", "description": "A paper file went missing."},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    breach_id = made.json()["id"]
    what = {"consequences": "None known.", "measures": "Searched.", "safety_steps": "None needed.", "contact": "DPO"}
    people.client.post(f"/api/v1/privacy/breaches/{breach_id}/assessment", json=what, headers=admin).raise_for_status()
    people.client.post(f"/api/v1/privacy/breaches/{breach_id}/board-intimation", headers=admin).raise_for_status()
    people._iso_breach = breach_id  # type: ignore[attr-defined]
    return str(breach_id)


def _privacy_consent_of_citizen1(people: People) -> str:
    cached = getattr(people, "_iso_privacy_consent", None)
    if cached:
        return str(cached)
    response = people.client.post(
        "/api/v1/me/consents", json={"purpose": "analytics.research"}, headers=people.headers("citizen1")
    )
    assert response.status_code == 201, response.text
    people._iso_privacy_consent = response.json()["id"]  # type: ignore[attr-defined]
    return str(people._iso_privacy_consent)  # type: ignore[attr-defined]


def _certified_of_a(people: People, *, suspended: bool = False) -> str:
    """An approved birth registration of citizen 1 at body A, with its certificate (one suspended, if asked)."""
    key = "_a_suspended" if suspended else "_a_certified"
    cached = getattr(people, key, None)
    if cached:
        return str(cached)

    number = str(approved_birth(people.client, people)["number"])
    if suspended:
        response = people.client.post(
            f"/api/v1/applications/{number}/certificate/suspend",
            json={"reason": "under inquiry"},
            headers=people.headers("a_secretary"),
        )
        assert response.status_code == 200, response.text
    setattr(people, key, number)
    return number


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """The route table, checked against what the served OpenAPI document says exists."""
    table = api_route_table()
    served = {
        (method.upper(), path)
        for path, ops in client.get("/openapi.json").json()["paths"].items()
        if path.startswith("/api/")
        for method in ops
    }
    assert served == table, f"routes outside API_ROUTERS or hidden from OpenAPI: {served ^ table}"
    return table


def _pdf() -> bytes:

    return PDF


def send(client: TestClient, method: str, path: str, call: Call, headers: dict[str, str]) -> Any:
    url = path.format(**call.path_params)
    if call.files is not None:
        return client.request(method, url, data=call.data, files=call.files, params=call.query, headers=headers)
    return client.request(method, url, json=call.json, params=call.query, headers=headers)


def test_every_route_is_classified(client: TestClient) -> None:
    routes = api_routes(client)
    unknown = routes - set(ROUTES) - PUBLIC_API_ROUTES
    assert not unknown, f"routes with no access-control test: {sorted(unknown)}; add them to ROUTES"
    stale = (set(ROUTES) | PUBLIC_API_ROUTES) - routes
    assert not stale, f"listed routes that no longer exist: {sorted(stale)}"


def test_protected_routes_refuse_anonymous_callers(client: TestClient, people: People) -> None:
    for (method, path), (_kind, make) in ROUTES.items():
        response = send(client, method, path, make(people), {})
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def _foreign_markers(people: People) -> list[str]:
    ids = [u.id for name, u in people.users.items() if name.startswith("a_") or name == "citizen1"]
    records = _records_of_a(people)
    pays = _payments_of_a(people)
    money = [pays["paid_demand"], pays["receipt"], pays["paid_payment"], pays["online_payment"]]
    return [f'"{i}"' for i in ids] + [f'"{people.body_a}"', records["draft"], records["submitted"], records["doc"], *money]


@pytest.mark.parametrize("actor", ["b_secretary", "ka_secretary", "citizen2", "b_operator"])
def test_outsiders_cannot_read_or_act_on_another_bodys_records(client: TestClient, people: People, actor: str) -> None:
    markers = _foreign_markers(people)
    for (method, path), (kind, make) in ROUTES.items():
        call = make(people)
        response = send(client, method, path, call, people.headers(actor))
        if response.status_code < 300 and response.content:
            # A citizen's own new application names the body they applied to; nothing else of A's may show.
            # (and a citizen's own applications may be at body A too).
            names_body_a_legitimately = kind == "self" or actor.startswith("citizen")
            watch = [m for m in markers if m != f'"{people.body_a}"'] if names_body_a_legitimately else markers
            leaked = [m for m in watch if m in response.text]
            assert not leaked, f"{actor} {method} {path} leaked {leaked}: {response.text[:300]}"
        if kind == "foreign" and method != "GET":
            assert response.status_code in (403, 404), (actor, method, path, response.status_code, response.text)
        if kind == "foreign" and "{" in path:
            assert response.status_code in (403, 404), (actor, method, path, response.status_code, response.text)


def test_the_records_owner_can_reach_them(client: TestClient, people: People) -> None:
    """The positive control: the same calls succeed for body A's own officers (or citizen 1)."""
    reads_first = sorted(ROUTES.items(), key=lambda item: item[0][0] != "GET")  # before the writes move the records
    for (method, path), (kind, make) in reads_first:
        if kind != "foreign":
            continue
        call = make(people)
        response = send(client, method, path, call, people.headers(call.owner))
        assert response.status_code < 300, (method, path, call.owner, response.status_code, response.text)
        if method == "GET" and path.endswith(("/users", "/audit-events", "/applications", "/inbox", "/demands", ".csv")):
            assert any(m in response.text for m in _foreign_markers(people)), (path, response.text[:300])


def test_a_citizen_sees_only_their_own_profile(client: TestClient, people: People) -> None:
    mine = client.get("/api/v1/me", headers=people.headers("citizen1"))
    assert mine.status_code == 200 and mine.json()["id"] == people.users["citizen1"].id
    assert mine.json()["mobile"] == "+919847000001"
    other = client.get(f"/api/v1/users/{people.users['citizen1'].id}", headers=people.headers("citizen2"))
    assert other.status_code in (403, 404)


def test_state_roles_reach_every_local_body_of_their_state_only(client: TestClient, people: People) -> None:
    admin = people.headers("kl_admin")
    assert client.get(f"/api/v1/users/{people.users['a_officer'].id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/users/{people.users['b_officer'].id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/users/{people.users['ka_secretary'].id}", headers=admin).status_code == 404
    auditor = people.headers("kl_auditor")
    events = client.get("/api/v1/audit-events", params={"limit": 500}, headers=auditor).json()
    assert events and all(e["tenant_code"] is None or e["tenant_code"].split(".")[0] == "kl" for e in events)
