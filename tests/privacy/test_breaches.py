"""The breach register (Rule 7): record, assess, tell the people affected and the Board, the 72-hour report."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.identity.models import User
from nagara.kit.db import clock_set_to, utcnow
from nagara.notifications.models import Notification
from nagara.privacy.models import BreachPerson
from nagara.runtime import Runtime
from tests.applications.helpers import apply, birth_form
from tests.conftest import People
from tests.officer.helpers import sign_in

REPORT = {
    "description": "A clerk's laptop with an export of 40 birth registrations was stolen from the office.",
    "facts": "The laptop was left unlocked overnight; the export had been made for a ward meeting.",
    "mitigation": "Exports are now refused on unmanaged devices; the stolen laptop's sessions were revoked.",
    "findings": "The theft was reported to the police (FIR 12/2026); no one inside is suspected.",
    "remedial": "Full-disk encryption on every office laptop; exports expire after a day.",
    "intimations": "All 40 families were told in the portal on the day of discovery, in their language.",
}


def _at(body: dict[str, object], what: str) -> dict[str, object]:
    due = body["due"]
    assert isinstance(due, list)
    return next(d for d in due if d["what"] == what)


def _parse(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def test_a_breach_is_recorded_assessed_and_told_within_the_rules_time_limits(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    admin = people.headers("kl_admin")
    number = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    with runtime.db.unit_of_work() as s:
        citizen = s.get(User, people.users["citizen1"].id)
        assert citizen is not None
        citizen.language = "ml"
    discovered = utcnow() - timedelta(hours=2)
    recorded = client.post(
        "/api/v1/privacy/breaches",
        json={
            "tenant": people.body_a,
            "title": "Stolen laptop with a birth register export",
            "description": "An export of birth registrations of ward 12 was on a laptop stolen from the office.",
            "discovered_at": discovered.isoformat(),
            "data_categories": ["names", "dates of birth", "addresses"],
            "people_categories": ["children", "parents"],
        },
        headers=admin,
    )
    assert recorded.status_code == 201, recorded.text
    breach = recorded.json()
    # The clocks run from the discovery: CERT-In within 6 hours, the Board's detailed report within 72.
    assert _parse(_at(breach, "cert_in")["due_at"]) == discovered + timedelta(hours=6)
    assert _parse(_at(breach, "board_report")["due_at"]) == discovered + timedelta(hours=72)
    assert _at(breach, "board_report")["overdue"] is False
    assert _at(breach, "board_intimation")["overdue"] is True  # "without delay": due from the discovery
    url = f"/api/v1/privacy/breaches/{breach['id']}"

    # Telling people needs to know who and what to tell them.
    assessed = client.post(f"{url}/assessment", json={"applications": [number]}, headers=admin)
    assert assessed.status_code == 200, assessed.text
    assert assessed.json()["affected"] == 1
    assert client.post(f"{url}/notify-people", headers=admin).status_code == 409
    unknown = client.post(f"{url}/assessment", json={"applications": ["KL-NONE-1"]}, headers=admin)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["applications"]
    client.post(
        f"{url}/assessment",
        json={
            "applications": [number],
            "consequences": "Someone could learn your child's date of birth and address.",
            "measures": "The laptop's access was revoked and the police informed.",
            "safety_steps": "Be wary of calls asking for your child's details.",
            "contact": "Data Protection Officer, 0471-2300000",
        },
        headers=admin,
    ).raise_for_status()
    told = client.post(f"{url}/notify-people", headers=admin)
    assert told.status_code == 200, told.text
    assert told.json()["notified"] == 1 and told.json()["principals_notified_at"]
    inbox = client.get("/api/v1/notifications", headers=people.headers("citizen1")).json()["items"]
    notice = next(m for m in inbox if m["event"] == "privacy_breach")
    assert notice["language"] == "ml"
    assert "ലംഘനം" in notice["subject"] and "Be wary of calls" in notice["body"]
    assert client.post(f"{url}/notify-people", headers=admin).json()["notified"] == 1  # nobody is told twice
    with runtime.db.unit_of_work(readonly=True) as s:
        assert len(list(s.scalars(select(Notification).where(Notification.event == "privacy_breach")))) == 1
        assert s.scalar(select(BreachPerson.notified_at)) is not None

    # The detailed report: the Board intimated first, and all six items.
    assert client.post(f"{url}/report", json=REPORT, headers=admin).status_code == 409
    client.post(f"{url}/board-intimation", headers=admin).raise_for_status()
    partial = client.post(f"{url}/report", json={k: v for k, v in REPORT.items() if k != "findings"}, headers=admin)
    assert partial.status_code == 422 and ["body", "findings"] in [e["loc"] for e in partial.json()["errors"]]
    client.post(f"{url}/cert-in-report", headers=admin).raise_for_status()
    done = client.post(f"{url}/report", json=REPORT, headers=admin)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["report"] == REPORT
    assert [(d["what"], d["done_at"] is not None) for d in body["due"]] == [
        ("board_intimation", True),
        ("people", True),
        ("cert_in", True),
        ("board_report", True),
    ]
    assert _at(body, "board_report")["overdue"] is False and _at(body, "cert_in")["overdue"] is False


def test_the_72_hours_run_out_on_the_workbench(client: TestClient, people: People) -> None:
    admin = people.headers("kl_admin")
    recorded = client.post(
        "/api/v1/privacy/breaches",
        json={
            "tenant": "kl",
            "title": "Misdirected e-mail",
            "description": "A list of applicants was e-mailed to a wrong address.",
        },
        headers=admin,
    ).json()
    with clock_set_to(utcnow() + timedelta(hours=73)):
        late = client.get(f"/api/v1/privacy/breaches/{recorded['id']}", headers=admin).json()
    assert _at(late, "board_report")["overdue"] is True and _at(late, "cert_in")["overdue"] is True
    sign_in(client, people, "kl_admin")
    page = client.get("/officer/privacy/breaches")
    assert page.status_code == 200
    assert "Misdirected e-mail" in page.text and "Detailed report to the Board" in page.text
    assert 'href="/officer/privacy/breaches"' in page.text  # the workbench links its register
    ml = client.get("/officer/privacy/breaches", headers={"Accept-Language": "ml"})
    assert "<h1>വിവര ലംഘനങ്ങൾ</h1>" in ml.text


def test_only_the_data_protection_officer_of_the_place_keeps_the_register(client: TestClient, people: People) -> None:
    breach = {"tenant": people.body_a, "title": "Lost file", "description": "A paper file went missing."}
    for who in ("a_secretary", "citizen1", "ka_secretary"):
        refused = client.post("/api/v1/privacy/breaches", json=breach, headers=people.headers(who))
        assert refused.status_code == 403, who
    made = client.post("/api/v1/privacy/breaches", json=breach, headers=people.headers("kl_admin")).json()
    assert client.get(f"/api/v1/privacy/breaches/{made['id']}", headers=people.headers("ka_secretary")).status_code == 404
    assert client.get("/api/v1/privacy/breaches", headers=people.headers("ka_secretary")).json() == []
    assert [b["id"] for b in client.get("/api/v1/privacy/breaches", headers=people.headers("kl_admin")).json()] == [made["id"]]
    future = {**breach, "discovered_at": (utcnow() + timedelta(hours=1)).isoformat()}
    assert client.post("/api/v1/privacy/breaches", json=future, headers=people.headers("kl_admin")).status_code == 422
    naive = {**breach, "discovered_at": "2026-12-01T10:00:00"}  # a time without its offset is ambiguous
    assert client.post("/api/v1/privacy/breaches", json=naive, headers=people.headers("kl_admin")).status_code == 422
    sign_in(client, people, "a_secretary")
    assert "Lost file" not in client.get("/officer/privacy/breaches").text
