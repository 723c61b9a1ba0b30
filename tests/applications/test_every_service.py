"""Every shipped service, walked through the API: to each final state, back for correction,
through an appeal, and escalated by the sweep with time moved forward."""

from __future__ import annotations

import re
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.applications.models import Application
from nagara.applications.service import sweep_due
from nagara.catalog.forms import form_errors
from nagara.kit.db import utcnow
from nagara.runtime import Runtime
from nagara.tenancy.models import LocalBody
from nagara.tenancy.packs import discover, read_pack
from nagara.workflow.engine import Clock, compensation_owed
from nagara.workflow.models import Breach
from tests.applications.helpers import PDF, PNG
from tests.conftest import PACKS, People, make_citizen, make_officer

SHIPPED = [
    (pack.code, code, definition) for pack in map(read_pack, discover(PACKS)) for code, definition in pack.services.items()
]
CITIZEN_MOBILES = {"kl": "9847011111", "ka": "9845011111", "jk": "9419011111"}
SAMPLE_TEXT = "12345678901234"  # also satisfies the packs' number patterns


def sample(schema: dict[str, Any]) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: sample(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "string":
        if schema.get("format") == "date":
            return (datetime.now(UTC).date() - timedelta(days=5)).isoformat()
        if schema.get("format") == "email":
            return "someone@example.in"
        return SAMPLE_TEXT[: max(schema.get("minLength", 1), min(schema.get("maxLength", 14), 14))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(int(low), 1) if schema.get("maximum", 10**9) >= 1 else low
    if kind == "boolean":
        return False
    if kind == "array":
        return [sample(schema.get("items", {"type": "string"}))] * schema.get("minItems", 0)
    raise AssertionError(f"no sample for {schema}")


@pytest.fixture
def office(runtime: Runtime, people: People) -> dict[str, Any]:
    """For each state: a local body per type with an officer in every role, and a citizen."""
    staff: dict[str, Any] = {}
    with runtime.db.unit_of_work() as s:
        for state in sorted({pack for pack, _code, _definition in SHIPPED}):  # every shipped pack, jk too
            roles = ("counter_clerk", "section_clerk", "officer", "secretary", "appellate_authority", "operator")
            for body in s.scalars(select(LocalBody).where(LocalBody.state_code == state).order_by(LocalBody.code)):
                if (state, body.type) in staff:
                    continue
                short = body.code.replace(".", "-")
                staff[(state, body.type)] = {
                    "body": body.code,
                    **{r: make_officer(s, f"w.{short}.{r}".replace("_", "-"), r, state, body.code) for r in roles},
                }
            staff[(state, "state_admin")] = make_officer(s, f"w.{state}.state-admin", "state_admin", state, None)
            staff[(state, "citizen")] = make_citizen(s, runtime, state, CITIZEN_MOBILES[state])
    return staff


class Walker:
    def __init__(
        self, client: TestClient, people: People, office: dict[str, Any], state: str, definition: dict[str, Any]
    ) -> None:
        self.client, self.people, self.state, self.d = client, people, state, definition
        body_type = definition["offered_by"][0]
        self.where = office[(state, body_type)]
        self.office = office
        self.tokens: dict[str, str] = {}

    def headers(self, role: str) -> dict[str, str]:
        if role not in self.tokens:
            user = (
                self.office[(self.state, "citizen")]
                if role == "applicant"
                else (self.office[(self.state, "state_admin")] if role == "state_admin" else self.where[role])
            )
            self.people.users[f"walker-{role}"] = user
            self.tokens[role] = self.people.token(f"walker-{role}")
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def form(self) -> dict[str, Any]:
        data = sample(self.d["form"]["schema"])
        errors = form_errors(self.d["form"]["schema"], data)
        assert not errors, f"{self.d['code']}: the test's sample form is invalid: {errors}"
        return data

    def submit(self) -> dict[str, Any]:
        draft = self.client.post(
            f"/api/v1/tenants/{self.where['body']}/applications",
            json={"service": self.d["code"], "data": self.form(), "submit": False},
            headers=self.headers("applicant"),
        )
        assert draft.status_code == 201, draft.text
        number = draft.json()["number"]
        for doc in self.d.get("documents", []):
            content, mime = (PDF, "application/pdf") if "application/pdf" in doc["media_types"] else (PNG, "image/png")
            up = self.client.post(
                f"/api/v1/applications/{number}/documents",
                data={"type": doc["code"]},
                files={"file": ("f", content, mime)},
                headers=self.headers("applicant"),
            )
            assert up.status_code == 201, up.text
        return self.act(draft.json(), "submit", "applicant")

    def act(self, app: dict[str, Any], action: str, role: str, status: int = 200) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/applications/{app['number']}/actions",
            json={"action": action, "version": app["version"], "comment": f"{action} by {role}"},
            headers=self.headers(role),
        )
        assert response.status_code == status, f"{self.d['code']}: {action} as {role}: {response.text}"
        return response.json()

    def pay_at_counter(self, app: dict[str, Any]) -> dict[str, Any]:
        """The counter clerk takes the fee in cash against the application's demand (a receipt marks it paid)."""
        clerk = self.headers("counter_clerk")
        (demand,) = self.client.get("/api/v1/demands", params={"application": app["number"]}, headers=clerk).json()
        paid = self.client.post(
            f"/api/v1/demands/{demand['number']}/counter-payments",
            json={"method": "cash", "amount": demand["amount_due_today"]},
            headers=clerk,
        )
        assert paid.status_code == 201, f"{self.d['code']}: counter payment: {paid.text}"
        after = self.client.get(f"/api/v1/applications/{app['number']}", headers=clerk).json()
        assert after["fee_paid"] is True
        return dict(after)

    def role_for(self, action: dict[str, Any]) -> str:
        return action["roles"][0]

    def take(self, app: dict[str, Any], code: str) -> dict[str, Any]:
        """Take ``code``, first paying the fee or verifying documents if its guards ask."""
        action = next(a for a in self.d["workflow"]["actions"] if a["code"] == code)
        here = [a for a in self.d["workflow"]["actions"] if app["state"] in a["from"]]
        if "fee_paid" in action.get("guards", []) and not app["fee_paid"]:
            app = self.pay_at_counter(app)
        if "documents_verified" in action.get("guards", []) and any(d["verified_at"] is None for d in app["documents"]):
            verifier = next(a for a in here if "verify_documents" in a.get("effects", []))
            app = self.act(app, verifier["code"], self.role_for(verifier))
            here = [a for a in self.d["workflow"]["actions"] if app["state"] in a["from"]]
            if code not in [a["code"] for a in here]:
                return app
        return self.act(app, code, self.role_for(action))

    def path_to(self, start: str, goal: str, avoid: set[str] | None = None) -> list[str]:
        """The shortest list of actions from ``start`` to ``goal``, avoiding the applicant's states."""
        queue: deque[tuple[str, list[str]]] = deque([(start, [])])
        seen = {start}
        while queue:
            here, path = queue.popleft()
            if here == goal:
                return path
            for a in self.d["workflow"]["actions"]:
                to = a["to"]
                if here in a["from"] and to not in seen and to != "=" and to not in (avoid or set()):
                    seen.add(to)
                    queue.append((to, [*path, a["code"]]))
        raise AssertionError(f"{self.d['code']}: no path from {start} to {goal}")

    def walk(self, app: dict[str, Any], goal: str) -> dict[str, Any]:
        while app["state"] != goal:
            step = self.path_to(
                app["state"], goal, {s for s, v in self.d["workflow"]["states"].items() if v.get("role") == "applicant"} - {goal}
            )[0]
            app = self.take(app, step)
        return app


def finals(definition: dict[str, Any]) -> list[str]:
    return [name for name, st in definition["workflow"]["states"].items() if st.get("final")]


@pytest.mark.parametrize(("state", "code", "definition"), SHIPPED, ids=[f"{s}-{c}" for s, c, _ in SHIPPED])
def test_each_final_state_is_reachable(
    client: TestClient, people: People, office: dict[str, Any], state: str, code: str, definition: dict[str, Any]
) -> None:
    walker = Walker(client, people, office, state, definition)
    for final in finals(definition):
        app = walker.submit()
        assert re.match(rf"^{state.upper()}-[A-Z0-9]+-{definition['short']}-\d{{4}}-\d{{6}}$", app["number"])
        app = walker.walk(app, final)
        assert app["state"] == final
        assert not app["is_open"]
        assert app["outcome"] == definition["workflow"]["states"][final]["outcome"]
        history = app["history"]
        assert history[0]["action"] == "submit"
        assert history[-1]["to_state"] == final


@pytest.mark.parametrize(("state", "code", "definition"), SHIPPED, ids=[f"{s}-{c}" for s, c, _ in SHIPPED])
def test_return_for_correction_and_resubmission(
    client: TestClient, people: People, office: dict[str, Any], state: str, code: str, definition: dict[str, Any]
) -> None:
    walker = Walker(client, people, office, state, definition)
    wf = definition["workflow"]
    applicant_states = [s for s, v in wf["states"].items() if v.get("role") == "applicant"]
    assert applicant_states, f"{code}: no state returns the application to the applicant"
    app = walker.submit()
    back = applicant_states[0]
    app = walker.walk(app, back)
    assert app["assigned_role"] == "applicant"
    resubmit = next(
        a
        for a in wf["actions"]
        if back in a["from"] and "applicant" in a["roles"] and wf["states"].get(a["to"], {}).get("final") is not True
    )
    app = walker.act(app, resubmit["code"], "applicant")
    assert app["is_open"]
    assert app["assigned_role"] != "applicant"


@pytest.mark.parametrize(("state", "code", "definition"), SHIPPED, ids=[f"{s}-{c}" for s, c, _ in SHIPPED])
def test_rejection_appeal_and_reconsideration(
    client: TestClient, people: People, office: dict[str, Any], state: str, code: str, definition: dict[str, Any]
) -> None:
    walker = Walker(client, people, office, state, definition)
    rejected = next(s for s in finals(definition) if definition["workflow"]["states"][s]["outcome"] == "rejected")
    app = walker.walk(walker.submit(), rejected)
    app = walker.act(app, "appeal", "applicant")
    assert app["state"] == "first_appeal"
    app = walker.act(app, "dismiss_appeal", definition["workflow"]["appeals"]["first"]["role"])
    app = walker.act(app, "appeal", "applicant")
    assert app["state"] == "second_appeal"
    app = walker.act(app, "allow_appeal", definition["workflow"]["appeals"]["second"]["role"])
    assert app["state"] == definition["workflow"]["appeals"].get("allow_to", definition["workflow"]["start"])
    approved = next(s for s in finals(definition) if definition["workflow"]["states"][s]["outcome"] == "approved")
    app = walker.walk(app, approved)
    assert app["outcome"] == "approved"


@pytest.mark.parametrize(("state", "code", "definition"), SHIPPED, ids=[f"{s}-{c}" for s, c, _ in SHIPPED])
def test_the_sweep_escalates_and_counts_compensation(
    client: TestClient,
    people: People,
    office: dict[str, Any],
    runtime: Runtime,
    state: str,
    code: str,
    definition: dict[str, Any],
) -> None:
    walker = Walker(client, people, office, state, definition)
    app = walker.submit()
    if not app["is_open"]:  # approved at once on self-certification
        return
    start = definition["workflow"]["states"][app["state"]]
    with runtime.db.unit_of_work() as s:
        sweep_due(s, now=utcnow() + timedelta(days=90))
    seen = walker.client.get(f"/api/v1/applications/{app['number']}", headers=walker.headers("applicant")).json()
    kinds = {b["kind"] for b in seen["breaches"]}
    assert kinds == {"state", "service"}, seen["breaches"]
    if start.get("escalate_to"):
        assert seen["assigned_role"] == start["escalate_to"]
        assert seen["history"][-1]["action"] == "escalate"

    with runtime.db.unit_of_work() as s:
        row = s.scalar(select(Application).where(Application.number == app["number"]))
        assert row is not None
        breach = s.scalar(select(Breach).where(Breach.application_id == row.id, Breach.kind == "service"))
        assert breach is not None
        owed = compensation_owed(breach, row, Clock.for_application(s, row), utcnow() + timedelta(days=90))
    if "compensation" in definition["workflow"]:
        # ninety days on, far past the limit: Rs 20 a working day, capped at Rs 500
        assert owed == definition["workflow"]["compensation"]["cap"]
    else:
        assert owed == 0
