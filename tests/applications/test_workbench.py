"""The officer workbench's reads and writes: what falls due, and one action over several applications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from nagara.applications import service
from nagara.applications.models import Application
from nagara.audit.models import AuditEvent
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.db import utcnow
from nagara.ledger.models import PendingEntry
from nagara.workflow.models import HistoryEntry
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import People, make_officer


def submitted(client: TestClient, people: People, who: str = "citizen1", body: str | None = None) -> dict[str, Any]:
    draft = apply(client, people, who, body or people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, who, draft["number"], "birth-report")
    upload(client, people, who, draft["number"], "parent-id")
    return act(client, people, who, fetch(client, people, who, draft["number"]), "submit")


def set_due(people: People, number: str, due: datetime) -> None:
    with people.runtime.db.unit_of_work() as s:
        s.execute(update(Application).where(Application.number == number).values(state_due_at=due))


def counts(people: People) -> tuple[int, int, int]:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return (
            int(s.scalar(select(func.count()).select_from(HistoryEntry)) or 0),
            int(s.scalar(select(func.count()).select_from(PendingEntry)) or 0),
            # audit events of the applications themselves (signing in for each call adds a token's)
            int(s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type != "auth_tokens")) or 0),
        )


def snapshot(people: People, numbers: list[str]) -> list[tuple[str, str, int]]:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        rows = s.execute(
            select(Application.number, Application.state, Application.version)
            .where(Application.number.in_(numbers))
            .order_by(Application.number)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --- falls due ---------------------------------------------------------------


def _principal(people: People, name: str) -> Any:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        user = s.get(User, people.users[name].id)
        assert user is not None
        return identity.load_principal(s, user, "bearer")


def test_falls_due_puts_each_application_in_its_bucket(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(6)]
    now = utcnow()
    officer = _principal(people, "a_secretary")
    with people.runtime.db.unit_of_work(readonly=True) as s:
        windows = service.due_windows(s, officer, now).bounds
    due = {
        "overdue": now - timedelta(hours=30),
        "today": windows["today"][0] + (windows["today"][1] - windows["today"][0]) / 2,
        "tomorrow": windows["tomorrow"][0] + timedelta(hours=12),
        "this_week": windows["this_week"][0] + timedelta(days=3),
    }
    for app, bucket in zip(apps, [*due, "later"], strict=False):
        set_due(people, app["number"], due.get(bucket, now + timedelta(days=20)))
    # the sixth is returned to the applicant: theirs to do, not the office's
    returned = act(client, people, "a_section_clerk", fetch(client, people, "a_section_clerk", apps[5]["number"]), "return", "x")
    assert returned["assigned_role"] == "applicant"
    set_due(people, apps[5]["number"], now - timedelta(hours=1))

    with people.runtime.db.unit_of_work(readonly=True) as s:
        view = service.falls_due(s, officer, now=now)
        got = {name: [a.number for a in view.buckets[name]] for name in service.DUE_BUCKETS}
    assert got == {name: [apps[i]["number"]] for i, name in enumerate(due)}
    assert view.counts == dict.fromkeys(service.DUE_BUCKETS, 1)

    # the same through the API, for a state administrator (their jurisdiction is the state)
    body = client.get("/api/v1/inbox/falls-due", headers=people.headers("kl_admin")).json()
    assert [b["name"] for b in body["buckets"]] == list(service.DUE_BUCKETS)
    by_name = {b["name"]: b for b in body["buckets"]}
    assert by_name["overdue"]["count"] == 1
    assert by_name["overdue"]["applications"][0]["number"] == apps[0]["number"]
    assert by_name["overdue"]["applications"][0]["overdue"] is True
    assert body["timezone"] == "Asia/Kolkata"

    # another body's officers and citizens see none of it
    other = client.get("/api/v1/inbox/falls-due", headers=people.headers("b_secretary")).json()
    assert all(b["count"] == 0 for b in other["buckets"])
    assert client.get("/api/v1/inbox/falls-due", headers=people.headers("citizen1")).status_code == 403


def test_falls_due_counts_all_but_lists_at_most_the_limit(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(3)]
    for i, app in enumerate(apps):
        set_due(people, app["number"], utcnow() - timedelta(hours=3 - i))
    body = client.get("/api/v1/inbox/falls-due", params={"limit": 2}, headers=people.headers("a_officer")).json()
    overdue = next(b for b in body["buckets"] if b["name"] == "overdue")
    assert overdue["count"] == 3
    assert [a["number"] for a in overdue["applications"]] == [apps[0]["number"], apps[1]["number"]]  # most urgent first
    other = client.get("/api/v1/inbox/falls-due", params={"service": "death-registration"}, headers=people.headers("a_officer"))
    assert all(b["count"] == 0 for b in other.json()["buckets"])


def test_inbox_due_window_filter(client: TestClient, people: People) -> None:
    early, late = submitted(client, people), submitted(client, people)
    set_due(people, early["number"], utcnow() + timedelta(days=1))
    set_due(people, late["number"], utcnow() + timedelta(days=5))
    after = (utcnow() + timedelta(days=3)).isoformat()
    inbox = client.get("/api/v1/inbox", params={"due_after": after}, headers=people.headers("a_section_clerk")).json()
    assert [a["number"] for a in inbox] == [late["number"]]


def test_the_inbox_holds_work_of_my_roles_where_i_hold_them_for_me_or_the_pool(client: TestClient, people: People) -> None:
    """Work is listed to the holders of its role in its place: the one it is assigned to, or all while unassigned."""
    with people.runtime.db.unit_of_work() as s:
        people.users["a_clerk2"] = make_officer(s, "a.section_clerk2", "section_clerk", "kl", people.body_a)
    app = submitted(client, people)

    def inbox(who: str) -> list[str]:
        response = client.get("/api/v1/inbox", headers=people.headers(who))
        assert response.status_code == 200, response.text
        return [a["number"] for a in response.json()]

    def hold(role: str, user: str | None) -> None:
        with people.runtime.db.unit_of_work() as s:
            assigned = people.users[user].id if user else None
            s.execute(
                update(Application).where(Application.number == app["number"]).values(assigned_role=role, assigned_to_id=assigned)
            )

    hold("section_clerk", "a_section_clerk")
    assert app["number"] in inbox("a_section_clerk")
    assert app["number"] not in inbox("a_clerk2")  # assigned to a colleague
    assert app["number"] not in inbox("a_officer")  # another role's work
    assert app["number"] not in inbox("b_section_clerk")  # the same role in another body
    hold("section_clerk", None)
    assert app["number"] in inbox("a_clerk2")  # the role's pool
    hold("state_admin", None)  # a second appeal: the state-wide role, which decides appeals without acting
    assert app["number"] in inbox("kl_admin")
    assert app["number"] not in inbox("a_section_clerk")
    assert client.get("/api/v1/inbox", headers=people.headers("ka_secretary")).json() == []


# --- bulk actions --------------------------------------------------------------


def bulk(
    client: TestClient, people: People, who: str, apps: list[dict[str, Any]], action: str, comment: str | None = None
) -> Any:
    return client.post(
        "/api/v1/applications/bulk-actions",
        json={"action": action, "comment": comment, "items": [{"number": a["number"], "version": a["version"]} for a in apps]},
        headers=people.headers(who),
    )


def test_bulk_action_applies_one_comment_to_each(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(3)]
    response = bulk(client, people, "a_section_clerk", apps, "return", "the hospital report is unreadable")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["done"] == 3
    assert {a["state"] for a in body["applications"]} == {"returned"}
    for app in apps:
        mine = fetch(client, people, "citizen1", app["number"])
        assert mine["history"][-1]["action"] == "return"
        assert mine["history"][-1]["comment"] == "the hospital report is unreadable"
        assert mine["history"][-1]["actor_role"] == "section_clerk"


def test_a_bulk_refusal_changes_nothing_and_names_each_refused(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(3)]
    numbers = [a["number"] for a in apps]
    moved = act(client, people, "a_section_clerk", fetch(client, people, "a_section_clerk", numbers[2]), "forward")
    before, rows = counts(people), snapshot(people, numbers)

    # the third moved on (stale version): all three are refused, the first two not forwarded
    response = bulk(client, people, "a_section_clerk", apps, "forward")
    assert response.status_code == 412, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["number"] for e in problem["errors"]] == [numbers[2]]
    assert problem["errors"][0]["loc"] == ["body", "items", 2]
    assert (counts(people), snapshot(people, numbers)) == (before, rows)

    # a fresh version, but forward is not allowed from approval; different reasons give 409
    stale_and_wrong = [apps[0], {**apps[1], "version": apps[1]["version"] + 5}, moved]
    response = bulk(client, people, "a_section_clerk", stale_and_wrong, "forward")
    assert response.status_code == 409, response.text
    assert {e["number"]: e["status"] for e in response.json()["errors"]} == {numbers[1]: 412, numbers[2]: 409}
    assert (counts(people), snapshot(people, numbers)) == (before, rows)


def test_bulk_refusals_by_role_comment_and_jurisdiction(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(2)]
    numbers = [a["number"] for a in apps]
    before, rows = counts(people), snapshot(people, numbers)
    # an officer holds applications:application:act, but forwarding is the section clerk's
    assert bulk(client, people, "a_officer", apps, "forward").status_code == 403
    # return needs a comment saying why
    no_comment = bulk(client, people, "a_section_clerk", apps, "return", "  ")
    assert no_comment.status_code == 422
    assert len(no_comment.json()["errors"]) == 2
    # another body's clerk cannot see them at all
    assert bulk(client, people, "b_section_clerk", apps, "forward").status_code == 404
    assert bulk(client, people, "citizen2", apps, "forward").status_code == 403
    assert (counts(people), snapshot(people, numbers)) == (before, rows)


def test_bulk_input_is_checked_before_anything(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    before = counts(people)
    duplicate = bulk(client, people, "a_section_clerk", [app, app], "forward")
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["loc"] == ["body", "items", 1, "number"]
    assert bulk(client, people, "a_section_clerk", [], "forward").status_code == 422
    too_many = [{"number": f"X-{i}", "version": 1} for i in range(service.MAX_BULK + 1)]
    assert bulk(client, people, "a_section_clerk", too_many, "forward").status_code == 422
    submit = bulk(client, people, "a_section_clerk", [app], "submit")
    assert submit.status_code == 422
    assert submit.json()["errors"][0]["loc"] == ["body", "action"]
    assert counts(people) == before
