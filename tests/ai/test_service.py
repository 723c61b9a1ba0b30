"""Triage on the database: a model trained and stored, every suggestion recorded for replay, an
officer's label kept (sealed) and used by the next training; and the same from the command line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from nagara.ai import service
from nagara.ai.models import AiLabel, AiModel, AiSuggestion
from nagara.cli import app as cli
from nagara.runtime import Runtime
from tests.conftest import PACKS, DatabaseFactory

ODD = "The swings in the children's park are broken and rusty"  # no category of the pack is about parks


def test_a_model_is_stored_once_per_set_of_examples(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        first = service.train_triage(session, "kl", PACKS / "kl")
        again = service.train_triage(session, "kl", PACKS / "kl")
        assert first.new
        assert not again.new
        assert again.version == first.version
        assert first.examples == {"en": 147, "ml": 147, "kn": 147, "hi": 147, "romanised": 149}
        assert session.scalars(select(AiModel.version).where(AiModel.state_code == "kl")).all() == [first.version]


def test_a_suggestion_is_recorded_with_its_model_version_and_input(runtime: Runtime) -> None:
    text = "മാലിന്യം രണ്ടാഴ്ചയായി എടുത്തിട്ടില്ല"
    with runtime.db.unit_of_work() as session:
        trained = service.train_triage(session, "kl", PACKS / "kl")
        suggestion_id, suggestion = service.suggest_triage(session, "kl", text, subject="grievance:test")
    assert suggestion.category == "waste-not-collected"
    assert suggestion.language == "ml"
    with runtime.db.unit_of_work() as session:
        record = session.get(AiSuggestion, suggestion_id)
        assert record is not None
        assert record.model_version == trained.version == suggestion.model_version
        assert record.input_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert record.output["category"] == "waste-not-collected"
        assert record.subject == "grievance:test"
        # Replay: the stored model, given the same text, says the same.
        replayed = service.current_triage(session, "kl").suggest(text)
        assert replayed.category == record.output["category"]
        assert replayed.confidence == record.output["confidence"]


def test_an_officers_correction_is_sealed_and_moves_the_next_model(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        before = service.train_triage(session, "kl", PACKS / "kl")
        model = service.current_triage(session, "kl")
        encroachment_before = float(model.probabilities(ODD)[model.classes.index("encroachment")])
        suggestion_id, _ = service.suggest_triage(session, "kl", ODD)
        for _ in range(3):
            service.label_triage(session, "kl", ODD, "encroachment", suggestion_id=suggestion_id, user_id="officer-1")
    with runtime.db.unit_of_work() as session:
        labels = session.scalars(select(AiLabel).where(AiLabel.state_code == "kl")).all()
        assert len(labels) == 3
        assert all(ODD not in label.text_sealed for label in labels)
        after = service.train_triage(session, "kl", PACKS / "kl")
        assert after.new
        assert after.version != before.version
        assert after.examples["correction"] == 3
        model = service.current_triage(session, "kl")
        assert model.version == after.version
        assert float(model.probabilities(ODD)[model.classes.index("encroachment")]) > encroachment_before


def test_a_label_must_be_a_category_of_the_state(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        service.train_triage(session, "kl", PACKS / "kl")
        with pytest.raises(ValueError, match=r"'parks' is not one of the state's triage categories: .*road-pothole"):
            service.label_triage(session, "kl", ODD, "parks")


def test_no_model_says_so(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session, pytest.raises(service.AssistantOff, match="nagara ai train jk"):
        service.suggest_triage(session, "jk", "road is broken")


def test_the_packs_switch_turns_triage_off_and_on_again(runtime: Runtime, tmp_path: Path) -> None:
    shutil.copytree(PACKS / "kl" / "ai", tmp_path / "ai")
    triage_yaml = tmp_path / "ai" / "triage.yaml"
    on = triage_yaml.read_text(encoding="utf-8")
    with runtime.db.unit_of_work() as session:
        trained = service.train_triage(session, "kl", tmp_path)
        assert service.suggest_triage(session, "kl", "road il valiya kuzhi")[1].category == "road-pothole"
        triage_yaml.write_text(on.replace("enabled: true", "enabled: false"), encoding="utf-8")
        assert service.train_triage(session, "kl", tmp_path) == service.Trained(service.OFF, new=True, examples={})
        assert not service.train_triage(session, "kl", tmp_path).new
        with pytest.raises(service.AssistantOff, match="turned off for kl"):
            service.suggest_triage(session, "kl", "road il valiya kuzhi")
        triage_yaml.write_text(on, encoding="utf-8")
        again = service.train_triage(session, "kl", tmp_path)
        assert (again.version, again.new) == (trained.version, False)
        assert service.suggest_triage(session, "kl", "road il valiya kuzhi")[1].model_version == trained.version
        triage_yaml.write_text(on.replace("enabled: true", "enabled: false"), encoding="utf-8")
        assert service.train_triage(session, "kl", tmp_path).new  # off again: the off row is current again
        with pytest.raises(service.AssistantOff, match="turned off for kl"):
            service.suggest_triage(session, "kl", "road il valiya kuzhi")
    # A pack with no ai/ folder (Jammu and Kashmir) has triage off.
    with runtime.db.unit_of_work() as session:
        assert service.train_triage(session, "jk", PACKS / "jk").version == service.OFF
        with pytest.raises(service.AssistantOff, match="turned off for jk"):
            service.suggest_triage(session, "jk", "road is broken")


def test_train_and_suggest_from_the_command_line(db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGARA_DATABASE_URL", db_factory.new_url())
    monkeypatch.setenv("NAGARA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("NAGARA_PACKS_DIR", str(PACKS))
    monkeypatch.setenv("NAGARA_LOG_JSON", "false")
    runner = CliRunner()
    assert runner.invoke(cli, ["pack", "load", str(PACKS / "ka")]).exit_code == 0
    unknown = runner.invoke(cli, ["ai", "suggest", "ka", "kasa tegedilla"])
    assert unknown.exit_code == 2
    assert "nagara ai train ka" in unknown.output
    trained = runner.invoke(cli, ["ai", "train", "ka"])
    assert trained.exit_code == 0, trained.output
    assert trained.output.startswith("trained: triage triage-")
    assert "147 kn" in trained.output
    assert runner.invoke(cli, ["ai", "train", "ka"]).output.startswith("unchanged: ")
    suggested = runner.invoke(cli, ["ai", "suggest", "ka", "ಬೀದಿ ದೀಪ ಉರಿಯುತ್ತಿಲ್ಲ"])
    assert suggested.exit_code == 0, suggested.output
    answer = json.loads(suggested.output)
    assert (answer["category"], answer["department"], answer["language"]) == ("streetlight", "electrical", "kn")
    assert answer["reasons"]
