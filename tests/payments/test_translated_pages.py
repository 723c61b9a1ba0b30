"""The pay page, the receipt and both timelines in Malayalam, Kannada and Hindi: no English, no codes.

Found walking the portal: "Fee for application … (birth-registration)" on the pay and receipt pages,
"Fee paid", "system" and "Rs 2.00" on the Malayalam timeline, the raw ``fee_paid`` on the officer's,
the account code "140-60" on the receipt, and two pay-page column headers with the same Malayalam word.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from nagara.payments.demands import fee_description
from nagara.web.i18n import LANGUAGES, translations
from tests.officer.helpers import sign_in
from tests.payments.conftest import FEE, Pay

SERVICE_NAMES = {"en": "Paid certificate", "ml": "ഫീസുള്ള സാക്ഷ്യപത്രം", "kn": "ಶುಲ್ಕದ ಪ್ರಮಾಣಪತ್ರ", "hi": "शुल्क वाला प्रमाणपत्र", "ur": "فیس والا سرٹیفکیٹ"}


def paid_online(pay: Pay) -> tuple[dict[str, Any], str]:
    """An application whose fee was paid through the gateway (so the system recorded the step); its receipt."""
    app = pay.apply()
    demand = pay.demand_of(app["number"])
    payment = pay.start(demand["number"])
    pay.browser_return(pay.pay_at_gateway(payment))
    after = pay.payment(payment["id"])
    assert after["status"] == "succeeded"
    return app, after["receipts"][0]


def page(pay: Pay, url: str, lang: str, who: str = "citizen1") -> str:
    pay.client.cookies.clear()
    sign_in(pay.client, pay.people, who)
    response = pay.client.get(url, headers={"Accept-Language": lang})
    assert response.status_code == 200, response.text
    assert f'<html lang="{lang}">' in response.text
    return html.unescape(response.text)


def column_headers(text: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', text)]


def test_the_demand_says_what_it_is_for_in_every_language() -> None:
    described = fee_description("KL-TVMCORP-PC-2026-000001", SERVICE_NAMES)
    assert set(described) == set(LANGUAGES)
    for lang, text in described.items():
        assert SERVICE_NAMES[lang] in text and "KL-TVMCORP-PC-2026-000001" in text
        if lang != "en":
            assert "Fee for application" not in text


@pytest.mark.parametrize("lang", ["ml", "kn", "hi"])
def test_pay_page_and_receipt_show_the_translated_service_and_heads(pay: Pay, lang: str) -> None:
    app, receipt = paid_online(pay)
    t = translations(lang)
    for url in (f"/applications/{app['number']}/pay", f"/receipts/{receipt}"):
        text = page(pay, url, lang)
        assert SERVICE_NAMES[lang] in text, url
        assert "paid-certificate" not in text and "Fee for application" not in text, url
        assert not re.search(r"\b\d{3}-\d{2}\b", text), f"an account code on {url}"
        headers = column_headers(text)
        assert len(headers) == len(set(headers)) == 3, (url, headers)  # two columns never share a word
        assert t.gettext("Fee") in text, url  # the head's name, translated
        assert t.gettext("Head") in headers, url


@pytest.mark.parametrize("lang", ["ml", "kn", "hi"])
def test_the_pay_pages_headers_differ_in_every_language(lang: str) -> None:
    t = translations(lang)
    words = [t.gettext(m) for m in ("Item", "Head", "Amount")]
    assert len(set(words)) == 3, words


@pytest.mark.parametrize("lang", ["ml", "kn", "hi"])
def test_the_timelines_say_fee_paid_by_the_system_in_the_language_with_rupees(pay: Pay, lang: str) -> None:
    app, receipt = paid_online(pay)
    t = translations(lang)
    citizen = page(pay, f"/applications/{app['number']}", lang)
    timeline = citizen.split('class="timeline"', 1)[1].split("</ol>", 1)[0]
    assert t.gettext("Fee paid") in timeline and t.gettext("Fee paid") != "Fee paid"
    assert t.gettext("System") in timeline and "system" not in timeline
    assert "Rs " not in timeline and "Fee paid" not in timeline
    assert receipt in timeline and "₹260.00" in timeline
    officer = page(pay, f"/officer/applications/{app['number']}", lang, who="a_secretary")
    history = officer.split(t.gettext("History"), 1)[1]
    assert "fee_paid" not in officer
    assert t.gettext("Fee paid") in history and "Rs " not in history
    assert f"{FEE}" not in history
