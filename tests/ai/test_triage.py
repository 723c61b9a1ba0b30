"""Grievance triage measured on held-out complaints it was never trained on (tests/ai/data/triage_heldout.yaml:
its origin is written at its top), against a majority-class and a keyword baseline, per language."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from nagara.ai import text
from nagara.ai import triage as tr

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = Path(__file__).parent / "data" / "triage_heldout.yaml"


def heldout() -> list[tr.Example]:
    doc = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [tr.Example(x, category, language) for language, cats in doc.items() for category, xs in cats.items() for x in xs]


@pytest.fixture(scope="module")
def kl() -> tuple[tr.TriageConfig, list[tr.Example], tr.TriageModel]:
    config = tr.read_config(ROOT / "packs" / "kl")
    assert config is not None
    examples = tr.read_examples(ROOT / "packs" / "kl", config)
    return config, examples, tr.train(examples, config)


def test_the_heldout_set_shares_no_complaint_with_the_training_examples(kl) -> None:
    _, examples, _ = kl
    trained = {text.normalise(e.text) for e in examples}
    held = heldout()
    assert {e.language for e in held} == set(text.LANGUAGES)
    assert not [e.text for e in held if text.normalise(e.text) in trained]


@pytest.mark.parametrize("language", text.LANGUAGES)
def test_triage_beats_both_baselines_in_every_language(kl, language: str) -> None:
    _, examples, model = kl
    held = [e for e in heldout() if e.language == language]
    ours = tr.score(tr.ModelRanker(model), held)
    keyword = tr.score(tr.KeywordBaseline(examples), held)
    majority = tr.score(tr.MajorityBaseline(examples), held)
    assert ours.accuracy > keyword.accuracy, (ours, keyword)
    assert ours.accuracy > majority.accuracy, (ours, majority)
    assert ours.macro_f1 > keyword.macro_f1, (ours, keyword)
    assert ours.top3 >= keyword.top3, (ours, keyword)


def test_a_suggestion_names_the_department_its_confidence_and_the_words_that_weighed(kl) -> None:
    _, _, model = kl
    s = model.suggest("The street light in our lane has not worked for a month, it is completely dark")
    assert (s.category, s.department) == ("streetlight", "electrical")
    assert s.confidence == s.top[0][1]
    assert len(s.top) == 3
    assert s.top[0][1] >= s.top[1][1] >= s.top[2][1]
    assert s.language == "en"
    assert not s.needs_human
    assert s.model_version == model.version
    assert "light" in s.reasons or "street" in s.reasons, s.reasons
    ml = model.suggest("തെരുവുവിളക്ക് കത്തുന്നില്ല")
    assert (ml.category, ml.language) == ("streetlight", "ml")
    assert ml.reasons and all(r in "തെരുവുവിളക്ക് കത്തുന്നില്ല" for r in ml.reasons)


def test_an_unclear_complaint_goes_to_the_human_queue(kl) -> None:
    _, _, model = kl
    s = model.suggest("please help")
    assert s.needs_human
    assert s.confidence < model.threshold


def test_the_stored_model_predicts_exactly_as_the_trained_one(kl) -> None:
    config, examples, model = kl
    again = tr.TriageModel.from_bytes(model.to_bytes())
    assert again.version == model.version == tr.train(examples, config).version
    for e in heldout()[::7]:
        assert again.suggest(e.text).category == model.suggest(e.text).category
        assert abs(again.suggest(e.text).confidence - model.suggest(e.text).confidence) < 1e-3


def test_a_model_of_another_format_is_refused(kl) -> None:
    _, _, model = kl
    with np.load(io.BytesIO(model.to_bytes()), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "format": 0}))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(ValueError, match="format 0"):
        tr.TriageModel.from_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    ("sample", "language"),
    [
        ("റോഡിൽ വലിയ കുഴി", "ml"),
        ("ರಸ್ತೆಯಲ್ಲಿ ದೊಡ್ಡ ಗುಂಡಿ", "kn"),
        ("सड़क पर बड़ा गड्ढा है", "hi"),
        ("There is a big pothole on the road near the school", "en"),
        ("road il valiya kuzhi und", "romanised"),
        ("sadak par bada gaddha hai", "romanised"),
    ],
)
def test_the_language_is_named(sample: str, language: str) -> None:
    assert text.identify(sample).code == language


def test_one_skeleton_for_a_word_in_its_script_and_romanised() -> None:
    assert text.skeleton(text.normalise("കുഴി")) == text.skeleton(text.normalise("kuzhi"))
    assert text.skeleton(text.normalise("गड्ढा")) == text.skeleton(text.normalise("gaddha"))
    assert text.skeleton(text.normalise("ಗುಂಡಿ")) == text.skeleton(text.normalise("gundi"))


def test_examples_naming_an_unknown_category_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ai" / "triage").mkdir(parents=True)
    (tmp_path / "ai" / "triage.yaml").write_text(
        "enabled: true\nthreshold: 0.5\ndepartments: [{code: eng, name: {en: Engineering}}]\n"
        "categories: [{code: roads, name: {en: Roads}, department: eng}, {code: lights, name: {en: Lights}, department: eng}]\n",
        encoding="utf-8",
    )
    (tmp_path / "ai" / "triage" / "en.yaml").write_text("roads: [a pothole]\nparks: [broken swing]\n", encoding="utf-8")
    config = tr.read_config(tmp_path)
    assert config is not None
    with pytest.raises(tr.TriageDataError, match="'parks' is not a category"):
        tr.read_examples(tmp_path, config)


def test_a_category_with_an_unknown_department_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ai").mkdir()
    (tmp_path / "ai" / "triage.yaml").write_text(
        "departments: [{code: eng, name: {en: Engineering}}]\ncategories: [{code: roads, name: {en: Roads}, department: pwd}]\n",
        encoding="utf-8",
    )
    with pytest.raises(tr.TriageDataError, match="'pwd' is not one of"):
        tr.read_config(tmp_path)


def test_a_pack_without_triage_has_the_assistant_off(tmp_path: Path) -> None:
    assert tr.read_config(tmp_path) is None


def test_karnataka_ships_its_triage_examples() -> None:
    config = tr.read_config(ROOT / "packs" / "ka")
    assert config is not None
    assert config.enabled
    examples = tr.read_examples(ROOT / "packs" / "ka", config)
    assert {e.language for e in examples} == set(text.LANGUAGES)
