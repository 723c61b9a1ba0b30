"""`nagara pack test`: every shipped pack walks clean; a broken workflow is reported with exit code 1.

The command makes its own scratch SQLite database whatever TEST_DB says, so these tests are the
same on both engines. The shipped packs are walked whole (about 20 s for kl, 10 s for ka); the
broken copies walk only the service they break.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from PIL import Image
from typer.testing import CliRunner

from nagara.cli import app as cli
from nagara.kit.files import sniff_media_type
from nagara.packtest import PDF, PNG, candidates, forms_for
from nagara.tenancy.packs import discover, read_pack
from tests.conftest import PACKS


@pytest.mark.parametrize("state", ["kl", "ka", "jk"])
def test_the_shipped_packs_walk_clean(state: str) -> None:
    result = CliRunner().invoke(cli, ["pack", "test", str(PACKS / state)])
    assert result.exit_code == 0, result.output
    pack = read_pack(PACKS / state)
    for code in pack.services:
        assert f"ok   {code} at {state}." in result.output
    assert "FAIL" not in result.output
    assert "every state and action" in result.output


def _copy(tmp_path: Path) -> Path:
    pack = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack)
    return pack


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_state_no_action_reaches_and_a_role_nobody_holds_fail(tmp_path: Path) -> None:
    pack = _copy(tmp_path)

    def add_role(roles: dict[str, Any]) -> None:
        # A role held by citizens themselves (scope self) is never granted to an officer.
        roles["roles"].append(
            {
                "code": "registrar_general",
                "name": {"ml": "രജിസ്ട്രാർ ജനറൽ", "en": "Registrar General", "kn": "ರಿಜಿಸ್ಟ್ರಾರ್ ಜನರಲ್", "hi": "रजिस्ट्रार जनरल"},
                "scope": "self",
                "permissions": [],
            }
        )

    verification = {"ml": "പരിശോധന", "en": "Verification", "kn": "ಪರಿಶೀಲನೆ", "hi": "सत्यापन"}
    countersign = {"ml": "മേലൊപ്പ്", "en": "Countersign", "kn": "ಪ್ರತಿಸಹಿ", "hi": "प्रतिहस्ताक्षर"}

    def unreachable_state(service: dict[str, Any]) -> None:
        wf = service["workflow"]
        wf["states"]["verification"] = {"name": verification, "role": "officer", "sla_days": 3}

    _edit(pack / "roles.yaml", add_role)
    _edit(pack / "services" / "birth-registration.yaml", unreachable_state)
    refused = CliRunner().invoke(cli, ["pack", "validate", str(pack)])
    assert refused.exit_code == 1  # a state no action leads to is a validation error now
    assert "workflow.states.verification: no action reaches state 'verification'" in " ".join(refused.output.split())

    def broken_workflow(service: dict[str, Any]) -> None:
        # Reached by an action, and by one only a role nobody can hold may take: valid, yet broken.
        wf = service["workflow"]
        wf["actions"].append(
            {
                "code": "countersign",
                "name": countersign,
                "from": ["approval"],
                "to": "verification",
                "roles": ["registrar_general"],
            }
        )

    _edit(pack / "services" / "birth-registration.yaml", broken_workflow)
    assert CliRunner().invoke(cli, ["pack", "validate", str(pack)]).exit_code == 0

    result = CliRunner().invoke(cli, ["pack", "test", str(pack), "--service", "birth-registration"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "FAIL birth-registration at kl." in text
    assert "state 'verification' was never reached: 'countersign': " in text
    assert "action 'countersign' was never taken: from 'approval': nobody can hold registrar_general" in text
    assert "held by citizens themselves and is not granted" in text
    assert "role 'registrar_general' (named by the workflow) cannot be held" in text


def test_an_action_whose_role_may_not_act_fails(tmp_path: Path) -> None:
    pack = _copy(tmp_path)

    def add_role(roles: dict[str, Any]) -> None:
        # Held in the local body, but without the permission to act on applications.
        roles["roles"].append(
            {
                "code": "observer",
                "name": {"ml": "നിരീക്ഷകൻ", "en": "Observer", "kn": "ವೀಕ್ಷಕ", "hi": "पर्यवेक्षक"},
                "scope": "local_body",
                "permissions": ["applications:application:read"],
            }
        )

    def only_observer_approves(service: dict[str, Any]) -> None:
        for action in service["workflow"]["actions"]:
            if action["code"] == "approve":
                action["roles"] = ["observer"]
        for document in service["documents"]:
            document["media_types"] = ["image/png"]  # the walk uploads a PNG where a PDF is not accepted

    _edit(pack / "roles.yaml", add_role)
    _edit(pack / "services" / "birth-registration.yaml", only_observer_approves)
    result = CliRunner().invoke(cli, ["pack", "test", str(pack), "-s", "birth-registration"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "action 'approve' was never taken" in text
    assert "as observer: 'approve' is taken by observer; you hold none of those roles here" in text
    assert "state 'approved' was never reached" in text
    # the rest, submission with PNG documents included, worked; the appeal walk ends at the same approval
    assert "FAIL birth-registration at kl.kannur-corp: 3 problem(s)" in text
    assert "appeals: 'approve' from 'approval'" in text


def test_an_unknown_service_or_an_invalid_pack_is_refused(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["pack", "test", str(PACKS / "kl"), "-s", "no-such-service"]).exit_code == 2
    pack = _copy(tmp_path)
    (pack / "districts.yaml").write_text("districts: oops\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["pack", "test", str(pack)])
    assert result.exit_code == 1
    assert "districts.yaml" in result.output


@pytest.mark.parametrize(
    ("code", "definition"),
    [(code, d) for p in discover(PACKS) for code, d in read_pack(p).services.items()],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_generated_forms_are_valid(code: str, definition: dict[str, Any]) -> None:
    forms = forms_for(definition)
    assert forms.problem is None
    assert forms.walk is not None
    validator = Draft202012Validator(definition["form"]["schema"], format_checker=FormatChecker())
    assert validator.is_valid(forms.walk), code
    if "self_certification" in definition["workflow"]:
        assert forms.self_certified is not None
        assert validator.is_valid(forms.self_certified)


def test_patterns_formats_and_conditions_are_met() -> None:
    assert candidates({"type": "string", "pattern": "^[0-9]{14}$"})[0] == "1" * 14
    assert all(len(s) >= 4 for s in candidates({"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4,6}$", "minLength": 4}))
    schema = {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {"kind": {"enum": ["shop", "factory"]}, "licence": {"type": "string", "pattern": "^LIC/[0-9]{3,}$"}},
        "if": {"properties": {"kind": {"const": "factory"}}, "required": ["kind"]},
        "then": {"required": ["licence"]},
    }
    definition = {
        "form": {"schema": schema},
        "fees": {"items": [{"code": "f", "name": {"en": "F"}, "kind": "fixed", "amount": 100, "when": [{"field": "kind", "op": "eq", "value": "factory"}]}]},
        "workflow": {},
    }
    forms = forms_for(definition)
    assert forms.walk is not None
    assert forms.walk["kind"] == "factory"  # the form with a fee is walked, so the counter is too
    assert forms.walk["licence"].startswith("LIC/")
    unsatisfiable = {"form": {"schema": {"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "minLength": 5, "maxLength": 2}}}}, "workflow": {}}
    assert "could not generate valid form data" in (forms_for(unsatisfiable).problem or "")


def test_the_uploads_are_what_they_claim() -> None:
    assert sniff_media_type(PDF) == "application/pdf"
    assert sniff_media_type(PNG) == "image/png"
    # the PDF's cross-reference table points at its objects, and startxref at the table
    assert PDF.rstrip().endswith(b"%%EOF")
    startxref = int(PDF.rsplit(b"startxref", 1)[1].split()[0])
    assert PDF[startxref:].startswith(b"xref")
    offsets = re.findall(rb"(\d{10}) 00000 n", PDF)
    assert len(offsets) == 3
    for number, offset in enumerate(offsets, start=1):
        assert PDF[int(offset) :].startswith(f"{number} 0 obj".encode())
    with Image.open(io.BytesIO(PNG)) as image:  # checks every chunk's checksum and the pixels
        image.load()
        assert image.size == (1, 1)
