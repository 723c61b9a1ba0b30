"""Duplicate grievances measured on held-out pairs (tests/ai/data/duplicates_heldout.yaml; its origin
is written at its top), against plain fuzzy matching of the texts; and the place, time and category
filters of the candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from rapidfuzz import fuzz

from nagara.ai import duplicates as d
from nagara.ai import text
from nagara.ai import triage as tr

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def similarity() -> d.Similarity:
    config = tr.read_config(ROOT / "packs" / "kl")
    assert config is not None
    return d.Similarity(tr.train(tr.read_examples(ROOT / "packs" / "kl", config), config))


def pairs(name: str) -> list[tuple[d.Complaint, d.Complaint, bool]]:
    doc = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return [
        (d.Complaint("a", p["a"], NOW, category=p["category_a"]), d.Complaint("b", p["b"], NOW, category=p["category_b"]), p["same"])
        for p in doc["pairs"]
    ]


def fuzzy_baseline(a: d.Complaint, b: d.Complaint) -> bool:
    """Plain fuzzy matching: same category and RapidFuzz token-set ratio of the normalised texts 70 or more."""
    return a.category == b.category and fuzz.token_set_ratio(text.normalise(a.text), text.normalise(b.text)) >= 70


def precision_recall(decisions: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(said and truth for said, truth in decisions)
    fp = sum(said and not truth for said, truth in decisions)
    fn = sum(truth and not said for said, truth in decisions)
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def test_the_heldout_pairs_are_not_the_design_pairs() -> None:
    held = {(a.text, b.text) for a, b, _ in pairs("duplicates_heldout.yaml")}
    dev = {(a.text, b.text) for a, b, _ in pairs("duplicates_dev.yaml")}
    assert len(held) == 30
    assert not held & dev
    assert sum(same for _, _, same in pairs("duplicates_heldout.yaml")) == 15


def test_duplicates_beat_plain_fuzzy_matching_on_heldout_pairs(similarity: d.Similarity) -> None:
    held = pairs("duplicates_heldout.yaml")
    ours = precision_recall([(similarity.same(a, b)[0], same) for a, b, same in held])
    baseline = precision_recall([(fuzzy_baseline(a, b), same) for a, b, same in held])
    assert f1(*ours) > f1(*baseline), (ours, baseline)
    assert ours[0] >= baseline[0], (ours, baseline)


def test_a_place_named_in_malayalam_matches_it_typed_in_english(similarity: d.Similarity) -> None:
    same, score, shared = similarity.same(
        d.Complaint("a", "Big pothole in front of Pallikkunnu church", NOW, category="road-pothole"),
        d.Complaint("b", "പള്ളിക്കുന്ന് പള്ളിക്ക് മുന്നിൽ റോഡിൽ വലിയ കുഴി", NOW, category="road-pothole"),
    )
    assert same
    assert score == 1.0
    assert shared == ["palikunu"]


def test_candidates_are_of_the_same_or_a_neighbouring_ward_the_window_and_the_category(similarity: d.Similarity) -> None:
    new = d.Complaint("new", "Garbage heap near Kottakkal bus stand not cleared", NOW, ward="5", category="waste-not-collected")
    others = [
        d.Complaint("same-ward", "kottakkal bus stand adutha maalinyam eduthilla", NOW - timedelta(days=3), ward="5", category="waste-not-collected"),
        d.Complaint("neighbour", "Waste dumped at Kottakkal bus stand", NOW - timedelta(days=1), ward="6", category="waste-not-collected"),
        d.Complaint("far-ward", "Waste dumped at Kottakkal bus stand", NOW, ward="9", category="waste-not-collected"),
        d.Complaint("too-old", "Waste dumped at Kottakkal bus stand", NOW - timedelta(days=45), ward="5", category="waste-not-collected"),
        d.Complaint("other-category", "Street light at Kottakkal bus stand off", NOW, ward="5", category="streetlight"),
        d.Complaint("elsewhere", "Garbage not collected near the fish market", NOW, ward="5", category="waste-not-collected"),
        d.Complaint("new", "Garbage heap near Kottakkal bus stand not cleared", NOW, ward="5", category="waste-not-collected"),
    ]
    found = d.likely_duplicates(new, others, similarity, neighbours={"5": ["4", "6"]})
    assert [m.key for m in found] == ["neighbour", "same-ward"]
    assert all(m.score >= d.THRESHOLD for m in found)
    assert found[1].shared == ["kotakal"]
    assert d.likely_duplicates(new, others, similarity, neighbours={"5": ["4", "6"]}, limit=1)[0].key == "neighbour"


def test_without_a_category_the_triage_model_names_it(similarity: d.Similarity) -> None:
    new = d.Complaint("new", "Street light near Kottakkal bus stand not working", NOW)
    other = d.Complaint("old", "kottakkal bus stand il street light kathunnilla", NOW)
    assert similarity.category(new) == similarity.category(other) == "streetlight"
    assert [m.key for m in d.likely_duplicates(new, [other], similarity)] == ["old"]
