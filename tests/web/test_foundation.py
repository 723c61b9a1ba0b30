"""The page foundation without a browser: locale choice, formatting, CSRF in forms, HTML errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nagara.identity import service as identity
from nagara.identity.deps import csrf_token_for
from nagara.web import i18n, templating
from nagara.web.pages import safe_next
from tests.conftest import make_citizen


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("kn", "ml-IN,ml;q=0.9", "kn"),  # an explicit choice wins
        (None, "ml-IN,ml;q=0.9,en;q=0.8", "ml"),
        (None, "hi", "hi"),
        (None, "ta-IN,ta;q=0.9", "en"),  # not offered: English
        ("xx", None, "en"),
        (None, None, "en"),
    ],
)
def test_language_is_the_cookie_then_accept_language_then_english(cookie, header, expected):
    assert i18n.negotiate(cookie, header) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "₹1,23,456.00"), ("hi", "₹1,23,456.00"), ("ml", "₹1,23,456.00"), ("kn", "₹1,23,456.00")],
)
def test_rupees_from_paise_with_indian_grouping(language, expected):
    token = i18n.set_language(language)
    try:
        assert templating.format_rupees(12_345_600) == expected
        assert templating.format_number(1234567) == "12,34,567"
    finally:
        i18n._current.reset(token)


def test_dates_are_shown_in_the_local_bodys_time_zone():
    env = templating.environment()
    moment = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 01:30 the next day in India
    token = i18n.set_language("en")
    try:
        out = env.from_string("{{ t|datetime }}").render(t=moment, timezone="Asia/Kolkata")
    finally:
        i18n._current.reset(token)
    assert out.startswith("2 Dec 2026")
    assert "1:30" in out


def test_translations_are_merged_from_every_area():
    assert i18n.translations("ml").gettext("Sign in") == "സൈൻ ഇൻ"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)", ""])
def test_redirects_after_sign_in_stay_on_this_site(target):
    assert safe_next(target) == "/"


def test_a_form_field_is_accepted_like_the_csrf_header(client, runtime):
    with runtime.db.unit_of_work() as session:
        user = make_citizen(session, runtime, "kl", "9847200001")
        raw = identity.issue_token(session, user, "session")
    client.cookies.set(runtime.settings.session_cookie, raw)
    refused = client.post("/api/v1/auth/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    accepted = client.post("/api/v1/auth/logout", data={"csrf_token": csrf_token_for(runtime, raw)})
    assert accepted.status_code == 204


def test_a_signed_in_page_form_without_the_token_changes_nothing(client, runtime):
    with runtime.db.unit_of_work() as session:
        user = make_citizen(session, runtime, "kl", "9847200002")
        raw = identity.issue_token(session, user, "session")
    client.cookies.set(runtime.settings.session_cookie, raw)
    response = client.post("/my/profile", data={"name": "Mallory"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    with runtime.db.unit_of_work(readonly=True) as session:
        assert identity.describe(session, session.get(type(user), user.id))["name"] is None


def test_an_anonymous_form_needs_the_token_of_its_cookie(client):
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert "nagara_form" in page.cookies or client.cookies.get("nagara_form")
    forged = client.post("/sign-in", data={"state": "kl", "mobile": "9847200003", "csrf_token": "x"})
    assert forged.status_code == 403


def test_errors_are_pages_in_the_chosen_language_and_problems_on_the_api(client):
    page = client.get("/no-such-page", headers={"Accept-Language": "ml"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "പേജ് കണ്ടെത്തിയില്ല" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_pages_need_sign_in_and_come_back_afterwards(client):
    response = client.get("/my/applications", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fmy%2Fapplications"


def test_pages_are_compressed_and_keep_a_strict_policy(client):
    response = client.get("/?body=kl.tvm-corp", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in response.text
    assert " style=" not in response.text
