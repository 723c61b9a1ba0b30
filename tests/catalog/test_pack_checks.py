"""Pack mistakes the validator catches instead of leaving to the first certificate or application."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nagara.cli import app as cli
from nagara.tenancy.packs import InvalidPack, read_pack
from tests.tenancy.test_packs import broken_copy


def errors_of(pack) -> dict[tuple[str, str], str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    return {(e.file, e.path): e.message for e in caught.value.errors}


def test_a_template_field_no_form_has_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def typo(data: dict) -> None:
        data["fields"].append({"field": "hospital_nmae"})

    pack = broken_copy(tmp_path, {"certificates/birth-certificate.yaml": typo})
    errors = errors_of(pack)
    message = errors[("certificates/birth-certificate.yaml", "fields[7].field")]
    assert "'hospital_nmae' is not a field of the form of services/birth-registration.yaml" in message
    assert "hospital_name" in message  # the fields it could have meant
    assert len(errors) == 1
    result = CliRunner().invoke(cli, ["pack", "validate", str(pack)])
    assert result.exit_code == 1
    assert "certificates/birth-certificate.yaml: fields[7].field: 'hospital_nmae'" in result.output


def test_a_shared_template_may_print_a_field_only_one_of_its_services_has(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # trade-licence.yaml prints `activity`, which the new licence's form has and the renewal's does not.
    read_pack(broken_copy(tmp_path, {}))

    def drop_activity(data: dict) -> None:
        del data["form"]["schema"]["properties"]["activity"]
        data["form"]["schema"]["required"].remove("activity")
        data["form"]["ui"]["order"].remove("activity")
        data["form"]["ui"]["fields"].pop("activity", None)

    other = tmp_path / "again"
    other.mkdir()
    errors = errors_of(broken_copy(other, {"services/trade-licence-new.yaml": drop_activity}))
    message = errors[("certificates/trade-licence.yaml", "fields[1].field")]
    assert (
        "'activity' is not a field of the form of services/trade-licence-new.yaml, services/trade-licence-renewal.yaml" in message
    )


def test_a_state_no_action_reaches_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def orphan(data: dict) -> None:
        states = data["workflow"]["states"]
        states["site_visit"] = {"name": dict(states["scrutiny"]["name"]), "role": "section_clerk", "sla_days": 2}

    errors = errors_of(broken_copy(tmp_path, {"services/residence-certificate.yaml": orphan}))
    message = errors[("services/residence-certificate.yaml", "workflow.states.site_visit")]
    assert "no action reaches state 'site_visit' from 'scrutiny'" in message
    assert len(errors) == 1


def test_states_reached_only_by_self_certification_or_an_allowed_appeal_are_reachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def only_by_appeal(data: dict) -> None:
        wf = data["workflow"]
        states = wf["states"]
        states["review"] = {"name": dict(states["approval"]["name"]), "role": "secretary", "sla_days": 1}
        wf["appeals"]["allow_to"] = "review"
        for action in wf["actions"]:
            if "approval" in action["from"]:
                action["from"].append("review")

    read_pack(broken_copy(tmp_path, {"services/residence-certificate.yaml": only_by_appeal}))
