"""In the browser: a citizen's messages with the unread count, marked read, and the page where they
choose how they are told (accessible, in the page's language)."""

from __future__ import annotations

from sqlalchemy import select

from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.db import utcnow
from nagara.notifications import service as notifications
from tests.browser import axe_check
from tests.web.helpers import sign_in_citizen

MOBILE = "9847100061"


def _two_messages(live) -> None:
    """Two portal messages for the citizen, written as a step's job writes them."""
    with live.runtime.db.unit_of_work() as session:
        number = identity.normalise_mobile(MOBILE)
        user = session.scalar(select(User).where(User.mobile_index == identity.mobile_index(live.runtime, "kl", number)))
        person = notifications.Recipient(user.id, "en", ("portal",), opt_out=False)
        for n, event in enumerate(("received", "fee_paid")):
            about = notifications.About("kl", "kl.tvm-corp", None, f"KL-TEST-{n}", f"browser-test:{n}")
            values = {"number": f"KL-TEST-{n}", "due_date": "06 Jan 2027", "link": live.url, "amount": "Rs 10.00", "receipt": "R-1"}
            notifications.compose(session, live.runtime, about, event, [person], values, link=live.url, now=utcnow())


def test_the_citizen_reads_their_messages_and_chooses_how_they_are_told(new_page, live_server, shot):
    page = new_page("en")
    page.goto("/?body=kl.tvm-corp")
    page.get_by_role("link", name="Sign in", exact=True).click()
    sign_in_citizen(page, live_server, MOBILE, send="Send code", code_label="Code from the SMS", sign_in="Sign in")
    page.wait_for_url(live_server.url + "/?body=kl.tvm-corp")
    _two_messages(live_server)

    page.get_by_role("link", name="Messages").click()
    page.wait_for_url("**/notifications")
    assert page.get_by_role("status").inner_text() == "Unread: 2"
    assert page.locator("li.message.unread").count() == 2
    assert page.get_by_role("heading", name="New Application KL-TEST-0 received").is_visible()
    axe_check(page)
    shot(page, "notifications-unread")
    page.get_by_role("button", name="Mark all as read").click()
    page.wait_for_url("**/notifications")
    assert page.get_by_role("status").inner_text() == "Unread: 0"
    assert page.locator("li.message.unread").count() == 0

    page.get_by_role("link", name="How we tell you").click()
    page.wait_for_url("**/my/notifications")
    axe_check(page)
    page.get_by_label("E-mail", exact=True).check()
    page.get_by_label("E-mail address").fill("ravi@example.in")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/my/notifications?saved=1")
    assert page.get_by_label("E-mail", exact=True).is_checked() and page.get_by_label("SMS to my mobile number").is_checked()
    assert page.get_by_label("E-mail address").input_value() == "ravi@example.in"
    axe_check(page)
    shot(page, "notifications-preferences")
