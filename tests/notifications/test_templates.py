"""Templates as pack data: every event in every language, SMS length counted as networks count it,
and a pack with a missing template or an over-long SMS is refused naming the file and the event."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nagara.kit.smstext import segments
from nagara.notifications.templates import EVENTS, VARIABLES, longest, render
from nagara.tenancy.packs import InvalidPack, read_pack, validators
from tests.conftest import PACKS


def test_gsm7_and_ucs2_segments() -> None:
    assert segments("a" * 160) == segments("a" * 160).__class__("GSM-7", 160, 1)
    assert segments("a" * 161).count == 2  # 153 a part once concatenated
    assert segments("a" * 306).count == 2
    assert segments("a" * 307).count == 3
    assert segments("{" * 80).units == 160  # an extension character takes two septets
    assert segments("{" * 81).count == 2
    assert segments("ಅ" * 70) == segments("ಅ" * 70).__class__("UCS-2", 70, 1)
    assert segments("ಅ" * 71).count == 2  # 67 a part once concatenated
    assert segments("ಅ" * 134).count == 2
    assert segments("a" * 159 + "ക").encoding == "UCS-2"  # one Malayalam letter makes it all UCS-2
    assert segments("😀" * 35).units == 70  # outside the BMP: two UTF-16 units each


@pytest.mark.parametrize("pack", ["kl", "ka", "jk"])
def test_every_event_has_a_template_in_every_language_of_each_pack(pack: str) -> None:
    loaded = read_pack(PACKS / pack)
    wanted = ["en", *loaded.meta["languages"], *loaded.meta.get("text_languages", [])]
    events = loaded.notifications["events"]
    assert set(events) == set(EVENTS)
    for event, definition in events.items():
        for key in ("subject", "text"):
            assert set(wanted) <= set(definition[key]), (pack, event, key)
        for language in wanted:
            values = {name: "x" * VARIABLES[name].max_length for name in EVENTS[event].variables}
            rendered = render(loaded.notifications, event, language, values)
            assert "{" not in rendered.text and rendered.dlt_template_id.isdigit()
            if language != "en":
                assert segments(longest(definition["text"][language])).encoding == "UCS-2"


def test_the_schema_and_the_code_name_the_same_events() -> None:
    schema = validators()["notifications"].schema
    assert set(schema["properties"]["events"]["required"]) == set(EVENTS)


def _copy(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    target = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", target)
    path = target / "notifications.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def _errors(pack: Path) -> list[str]:
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    return [str(e) for e in caught.value.errors]


def test_a_missing_template_fails_validation_naming_file_and_event(tmp_path: Path) -> None:
    errors = _errors(_copy(tmp_path, lambda d: d["events"].pop("approved")))
    assert len(errors) == 1
    assert errors[0].startswith("notifications.yaml: events:")
    assert "'approved'" in errors[0]


def test_a_template_missing_a_language_fails_naming_event_and_language(tmp_path: Path) -> None:
    errors = _errors(_copy(tmp_path, lambda d: d["events"]["rejected"]["text"].pop("kn")))
    assert errors == [
        (
            "notifications.yaml: events.rejected.text: the text lacks kn; every text a citizen may see is needed in "
            "en, ml, kn, hi (English and the languages and text_languages pack.yaml declares)"
        )
    ]


def test_an_over_long_sms_template_fails_validation_naming_file_event_and_parts(tmp_path: Path) -> None:
    def lengthen(d: dict[str, Any]) -> None:
        d["events"]["received"]["text"]["ml"] += " ദയവായി ശ്രദ്ധിക്കുക" * 5  # within the 200 characters a text may have

    [error] = _errors(_copy(tmp_path, lengthen))
    assert error.startswith("notifications.yaml: events.received.text.ml: event 'received': the SMS takes ")
    assert "UCS-2" in error and "at most 4 (sms.max_segments)" in error


def test_a_variable_the_event_does_not_offer_is_refused(tmp_path: Path) -> None:
    def misuse(d: dict[str, Any]) -> None:
        d["events"]["fee_paid"]["text"]["en"] = "Paid {amount} for {number}; certificate {certificate_link}"

    [error] = _errors(_copy(tmp_path, misuse))
    assert error == (
        "notifications.yaml: events.fee_paid.text.en: event 'fee_paid' offers no variable certificate_link; "
        "it offers number, amount, receipt"
    )


def test_a_malformed_placeholder_is_refused(tmp_path: Path) -> None:
    def misuse(d: dict[str, Any]) -> None:
        d["events"]["approved"]["subject"]["hi"] = "आवेदन {number!r} स्वीकृत"

    [error] = _errors(_copy(tmp_path, misuse))
    assert error.startswith("notifications.yaml: events.approved.subject.hi: event 'approved': {number} is not a plain variable")


def test_a_wrong_dlt_id_or_header_is_refused(tmp_path: Path) -> None:
    def wrong(d: dict[str, Any]) -> None:
        d["events"]["approved"]["dlt_template_id"] = "12AB"
        d["sms"]["header"] = "kl"

    errors = _errors(_copy(tmp_path, wrong))
    assert any(e.startswith("notifications.yaml: events.approved.dlt_template_id:") for e in errors)
    assert any(e.startswith("notifications.yaml: sms.header:") for e in errors)
