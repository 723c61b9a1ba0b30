"""Administration: a local body's services as it runs them, and what it overrides."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import People


def test_a_body_overriding_fees_shows_them(client: TestClient, people: People) -> None:
    response = client.get("/api/v1/local-bodies/kl.tvm-corp/service-settings", headers=people.headers("kl_admin"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"office_hours.opens", "office_hours.closes", "calendar.holidays"} <= set(body["settings_overridden"])
    assert body["settings"]["office_hours"]["opens"] == "10:15"
    services = {s["code"]: s for s in body["services"]}
    trade = services["trade-licence-new"]
    assert "fees.items" in trade["overridden"]
    state_wide = client.get("/api/v1/tenants/kl/services/trade-licence-new").json()
    assert trade["fees"] != state_wide["fees"]  # the corporation's own fees, not the state's
    birth = services["birth-registration"]
    assert birth["overridden"] == [] and birth["offered"] is True
    assert birth["sla_days"] == 7
    scrutiny = next(s for s in birth["states"] if s["state"] == "scrutiny")
    assert (scrutiny["role"], scrutiny["sla_days"], scrutiny["escalate_to"]) == ("section_clerk", 3, "officer")


def test_services_a_body_type_does_not_offer_are_marked(client: TestClient, people: People) -> None:
    body = client.get(f"/api/v1/local-bodies/{people.body_a}/service-settings", headers=people.headers("a_secretary")).json()
    offered = {s["code"] for s in body["services"] if s["offered"]}
    public = {s["code"] for s in client.get(f"/api/v1/tenants/{people.body_a}/services").json()}
    assert offered == public
    assert len(body["services"]) >= len(offered)


def test_only_administrators_of_the_body_may_read_them(client: TestClient, people: People) -> None:
    url = f"/api/v1/local-bodies/{people.body_a}/service-settings"
    for who in ("b_secretary", "ka_secretary", "a_section_clerk", "a_operator", "citizen1"):
        assert client.get(url, headers=people.headers(who)).status_code == 403, who
    assert client.get(url, headers=people.headers("kl_auditor")).status_code == 200
    state = client.get("/api/v1/local-bodies/kl/service-settings", headers=people.headers("kl_admin"))
    assert state.status_code == 422  # 'kl' is a state, not a local body
    assert state.json()["errors"][0]["loc"] == ["path", "code"]
