"""A citizen sees what they will pay before submitting, and why: the draft's fee preview and the service's fees in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.runtime import Runtime
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import People


def _late_draft(client: TestClient, people: People, days: int = 25) -> dict:
    born = (datetime.now(UTC).date() - timedelta(days=days)).isoformat()
    return apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(date_of_birth=born), submit=False)


def test_a_draft_shows_each_fee_item_charged_or_not_and_why(client: TestClient, people: People) -> None:
    draft = _late_draft(client, people)
    assert draft["fee_lines"] == []  # a draft has no fee lines: the preview is where the fee is seen
    got = client.get(f"/api/v1/applications/{draft['number']}/fees", headers=people.headers("citizen1"))
    assert got.status_code == 200, got.text
    preview = got.json()
    lines = {line["code"]: line for line in preview["lines"]}
    assert set(lines) == {"late-fee-30", "late-fee-365", "late-fee-old"}  # every item, charged or not
    late = lines["late-fee-30"]
    assert late["applies"] is True and late["amount"] > 0 and late["account"] == "140-60"
    assert late["why"].startswith("Charged, because Date of birth is more than 21 days before the day of submission")
    assert [c["holds"] for c in late["conditions"]] == [True, True]
    year = lines["late-fee-365"]
    assert year["applies"] is False and year["amount"] == 0
    assert year["why"].startswith("Not charged: it applies only when Date of birth is more than 30 days")
    assert [c["holds"] for c in year["conditions"]] == [False, True]
    assert preview["total"] == late["amount"]

    # submitted today, the application owes what the preview said
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id")
    submitted = act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")
    assert submitted["fee_total"] == preview["total"]
    assert [ln["code"] for ln in submitted["fee_lines"]] == ["late-fee-30"]
    assert submitted["fee_lines"][0]["account"] == "140-60"
    after = client.get(f"/api/v1/applications/{draft['number']}/fees", headers=people.headers("citizen1"))
    assert after.status_code == 409 and "fee_lines" in after.json()["detail"]


def test_the_preview_is_in_the_users_language_and_only_for_who_may_see_the_draft(client: TestClient, people: People) -> None:
    draft = _late_draft(client, people)
    url = f"/api/v1/applications/{draft['number']}/fees"
    ml = client.get(url, headers={**people.headers("citizen1"), "Accept-Language": "ml"}).json()
    late = next(line for line in ml["lines"] if line["code"] == "late-fee-30")
    assert late["why"].startswith("ഈടാക്കുന്നു, കാരണം: ജനന തീയതി")
    assert not re.search(r"[A-Za-z]{3,}", late["why"] + " ".join(c["text"] for c in late["conditions"]))
    assert client.get(url, headers=people.headers("citizen2")).status_code == 404
    assert client.get(url, headers=people.headers("b_secretary")).status_code == 404
    assert client.get(url).status_code == 401


def test_the_service_lists_each_fee_items_condition_in_words(client: TestClient, people: People) -> None:
    svc = client.get(f"/api/v1/tenants/{people.body_a}/services/marriage-registration").json()
    fees = {item["code"]: item for item in svc["fees"]}
    assert fees["registration-fee"]["account"] == "140-10"
    assert fees["registration-fee"]["condition"] is not None and " is " in fees["registration-fee"]["condition"]
    assert "more than 45 days before the day of submission" in fees["late-fine"]["condition"]
    hindi = client.get(
        f"/api/v1/tenants/{people.body_a}/services/marriage-registration", headers={"Accept-Language": "hi"}
    ).json()
    late = next(item for item in hindi["fees"] if item["code"] == "late-fine")
    assert "45 से अधिक दिन पहले है" in late["condition"]
    page = client.get(f"/services/{people.body_a}/marriage-registration").text
    assert "charged when" in page and "more than 45 days before the day of submission" in page


def test_the_review_page_says_what_you_will_pay_today_and_why(client: TestClient, people: People, runtime: Runtime) -> None:
    draft = _late_draft(client, people)
    with runtime.db.unit_of_work() as s:
        raw = identity.issue_token(s, s.get(User, people.users["citizen1"].id), "session")  # type: ignore[arg-type]
    client.cookies.set(runtime.settings.session_cookie, raw)
    page = client.get(f"/applications/{draft['number']}/review")
    assert page.status_code == 200, page.text
    text = page.text
    assert "What you will pay if you submit today" in text
    row = re.search(r'<tr id="fee-late-fee-30">(.*?)</tr>', text, re.DOTALL)
    assert row and "Charged, because" in row.group(1)
    row = re.search(r'<tr id="fee-late-fee-old" class="hint">(.*?)</tr>', text, re.DOTALL)
    assert row and "Not charged: it applies only when" in row.group(1)
