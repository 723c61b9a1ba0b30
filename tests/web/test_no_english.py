"""No page in Malayalam, Kannada or Hindi shows the English of a text that has a translation.

One browser walks the main citizen pages (home with the services, a service, its form, tracking with
the timeline, the pay page, the receipt, my applications) and the officer's (inbox, the application
with its history) in each language, and compares every visible text (text nodes, and the labels,
placeholders, titles and alternative texts read aloud) with the English of the interface catalogs and
of the pack: a text equal to an English message whose translation differs is English left behind.
Names, numbers and what people typed are never English messages, so they pass.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.payments import counter, demands
from nagara.payments.models import Receipt
from nagara.tenancy.packs import texts
from nagara.web import catalogs
from nagara.web.i18n import translations
from tests.browser import LiveServer, axe_check
from tests.conftest import PACKS, make_citizen
from tests.web.helpers import officer, tiny_pdf

BODY = "kl.tvm-corp"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
VISIBLE_TEXTS = """() => {
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && node.parentElement.closest("script, style, template")) continue;
    out.push(node.textContent);
  }
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title], [alt]"))
    for (const name of ["aria-label", "placeholder", "title", "alt"])
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
  return out.map((t) => t.replace(/\\s+/g, " ").trim()).filter((t) => t);
}"""


@cache
def english_of(lang: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """The English texts that have a different ``lang`` translation: exact ones, and patterns for those with placeholders."""
    t = translations(lang)
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    catalog = getattr(t, "_catalog", {})
    for message, _where in catalogs.all_messages():
        msgid = message if isinstance(message, str) else message[0]
        if catalog.get(msgid if isinstance(message, str) else (msgid, 0)) == msgid:
            continue  # the same in both (UPI, PDF): not English left behind
        if PLACEHOLDER.search(msgid):
            literal = PLACEHOLDER.split(msgid)
            # Enough English around the placeholders to tell: "%(a)s is not %(b)s" alone would match
            # any sentence a person typed (an officer's comment), so ten letters at least.
            if sum(c.isalpha() for part in literal for c in part) >= 10:
                patterns.append(re.compile(".+?".join(re.escape(part) for part in literal), re.DOTALL))
        else:
            exact.add(msgid.strip())
    for path in (PACKS / "kl").rglob("*.yaml"):
        for _where, text in texts(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if text.get("en") and text.get(lang) != text["en"]:  # a text missing the language shows English
                exact.add(text["en"].strip())
    return frozenset(exact), tuple(patterns)


# Besides messages: a code shown as it is stored (fee_paid, 140-60) and money in the English way (Rs 2.00).
CODE_OR_ENGLISH_MONEY = re.compile(r"^[a-z]+(_[a-z]+)+$|\b\d{3}-\d{2}\b|\bRs\.? ?\d")


def english_left(page: Any, lang: str) -> list[str]:
    exact, patterns = english_of(lang)
    seen = page.evaluate(VISIBLE_TEXTS)
    return sorted({s for s in seen if s in exact or CODE_OR_ENGLISH_MONEY.search(s) or any(p.fullmatch(s) for p in patterns)})


@pytest.fixture(scope="module")
def paid_application(live_server: LiveServer) -> dict[str, str]:
    """A citizen's birth registration, submitted late (a fee of ₹2.00) and paid at the counter."""
    clerk = officer(live_server, "noenglish.counter", "counter_clerk")
    section = officer(live_server, "noenglish.clerk", "section_clerk")
    born = (datetime.now(UTC).date() - timedelta(days=25)).isoformat()
    form = {
        "child_name": "Ammu",
        "sex": "female",
        "date_of_birth": born,
        "place_of_birth": "home",
        "ward": 7,
        "mother_name": "Lakshmi",
        "informant_relation": "mother",
    }
    with live_server.runtime.db.unit_of_work() as s:
        user = make_citizen(s, live_server.runtime, "kl", "9847100777")
        citizen = identity.load_principal(s, user, "bearer")
        app = applications.create(s, citizen, tenant=BODY, service_code="birth-registration", data=form, submit=False)
        applications.upload(
            s, citizen, app.number, doc_type="parent-id", filename="id.pdf", declared="application/pdf", content=tiny_pdf()
        )
        applications.act(s, citizen, app.number, action="submit", comment=None, version=app.version)
        number = app.number
        citizen_session = identity.issue_token(s, user, "session")
    with live_server.runtime.db.unit_of_work() as s:
        demand = demands.demand_of_application(s, citizen, number)
        assert demand is not None and demand.amount == 200
        me = s.get(User, clerk.id)
        assert me is not None
        counter.counter_payment(
            s,
            identity.load_principal(s, me, "bearer"),
            demand.number,
            method="cash",
            amount=200,
            instrument=None,
            idempotency_key=None,
        )
        receipt = s.scalar(select(Receipt.number).where(Receipt.demand_id == demand.id))
        clerk_user = s.get(User, section.id)
        assert clerk_user is not None and receipt is not None
        officer_session = identity.issue_token(s, clerk_user, "session")
    return {"number": number, "receipt": receipt, "citizen": citizen_session, "officer": officer_session}


@pytest.mark.parametrize("lang", ["ml", "kn", "hi"])
def test_no_translated_page_shows_english(
    new_page: Any, live_server: LiveServer, paid_application: dict[str, str], lang: str
) -> None:
    number, receipt = paid_application["number"], paid_application["receipt"]
    cookie = live_server.runtime.settings.session_cookie
    walks = {
        "citizen": [
            "/?body=kl.tvm-corp",
            f"/services/{BODY}/birth-registration",
            f"/apply/{BODY}/birth-registration",
            f"/applications/{number}",
            f"/applications/{number}/pay",
            f"/receipts/{receipt}",
            "/my/applications",
        ],
        "officer": ["/officer", f"/officer/applications/{number}"],
    }
    found: dict[str, list[str]] = {}
    for who, paths in walks.items():
        page = new_page(lang)
        page.context.add_cookies([{"name": cookie, "value": paid_application[who], "url": live_server.url}])
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            assert page.locator("html").get_attribute("lang") == lang
            axe_check(page)
            left = english_left(page, lang)
            if left:
                found[path] = left
    assert found == {}, f"English on {lang} pages: {found}"


def test_the_check_sees_english_when_it_is_there(new_page: Any, live_server: LiveServer) -> None:
    """The comparison itself: an English page compared with the Malayalam catalog is all English."""
    page = new_page("en")
    page.goto(f"/services/{BODY}/birth-registration")
    left = english_left(page, "ml")
    assert "Birth registration" in left  # the pack's service name
    assert any(text in left for text in ("Sign in", "Apply now")), left  # the catalogs' messages
