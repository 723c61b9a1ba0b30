"""The assistants' operations on the database: train and store a model, suggest (recording what was
suggested), and take an officer's label as training data for the next model.

Services only flush; the caller's unit of work commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.ai import triage as tr
from nagara.ai.models import TRIAGE, AiLabel, AiModel, AiSuggestion
from nagara.kit.db import new_id, utcnow
from nagara.runtime import runtime_of
from nagara.tenancy.context import immutable

LABEL_CONTEXT = "ai-label"
OFF = "off"  # the version of the row that turns an assistant off for a state


class AssistantOff(LookupError):
    """The state's pack turns the assistant off, or no model has been trained for it yet."""


@dataclass(frozen=True)
class Trained:
    version: str
    new: bool  # False: the same examples gave a model already stored
    examples: dict[str, int]


def _labels(session: Session, state_code: str) -> list[tr.Example]:
    cipher = runtime_of(session).cipher
    rows = session.scalars(
        select(AiLabel)
        .where(AiLabel.state_code == state_code, AiLabel.task == TRIAGE)
        .order_by(AiLabel.created_at, AiLabel.id)
    )
    return [
        tr.Example(cipher.decrypt(row.text_sealed, context=f"{LABEL_CONTEXT}:{row.id}"), row.label, "correction") for row in rows
    ]


def _current_row(session: Session, state_code: str) -> tuple[str, str] | None:
    row = session.execute(
        select(AiModel.id, AiModel.version)
        .where(AiModel.state_code == state_code, AiModel.task == TRIAGE)
        .order_by(AiModel.trained_at.desc(), AiModel.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.version)


def train_triage(session: Session, state_code: str, pack_dir: Path) -> Trained:
    """Train on the pack's examples and every label officers gave in the state, and make the model the
    state's current one (stored once per set of examples). Labels naming a category the pack no longer
    has are left out. A pack whose ``ai/triage.yaml`` is missing or says ``enabled: false`` turns
    triage off: an ``off`` row becomes current, and suggestions stop until triage is trained again."""
    config = tr.read_config(pack_dir)
    if config is None or not config.enabled:
        current = _current_row(session, state_code)
        if current is not None and current[1] == OFF:
            return Trained(OFF, new=False, examples={})
        off = session.scalar(
            select(AiModel).where(AiModel.state_code == state_code, AiModel.task == TRIAGE, AiModel.version == OFF)
        )
        if off is None:
            session.add(AiModel(state_code=state_code, task=TRIAGE, version=OFF, examples={}, model=b""))
        else:
            off.trained_at = utcnow()
        session.flush()
        return Trained(OFF, new=True, examples={})
    examples = tr.read_examples(pack_dir, config)
    examples += [e for e in _labels(session, state_code) if e.category in config.categories]
    model = tr.train(examples, config)
    stored = session.scalar(
        select(AiModel).where(AiModel.state_code == state_code, AiModel.task == TRIAGE, AiModel.version == model.version)
    )
    if stored is None:
        session.add(
            AiModel(state_code=state_code, task=TRIAGE, version=model.version, examples=model.trained_on, model=model.to_bytes())
        )
    else:
        current = _current_row(session, state_code)
        if current is not None and current[0] != stored.id:
            stored.trained_at = utcnow()  # current again (after triage was off, or another model)
    session.flush()
    return Trained(model.version, stored is None, dict(model.trained_on))


def current_triage(session: Session, state_code: str) -> tr.TriageModel:
    """The state's current triage model (parsed once per process: a stored model never changes)."""
    current = _current_row(session, state_code)
    if current is None:
        raise AssistantOff(f"no triage model has been trained for {state_code}: run `nagara ai train {state_code}`")
    model_id, version = current
    if version == OFF:
        raise AssistantOff(f"triage is turned off for {state_code} (its pack's ai/triage.yaml is missing or says enabled: false)")

    def load() -> tr.TriageModel:
        blob = session.scalar(select(AiModel.model).where(AiModel.id == model_id))
        assert blob is not None
        return tr.TriageModel.from_bytes(blob)

    return immutable(session, ("ai.triage", model_id), load)


def suggest_triage(session: Session, state_code: str, text: str, *, subject: str | None = None) -> tuple[str, tr.Suggestion]:
    """A suggestion for a complaint, recorded with its model version and the input's hash; its record's id.
    The record is added to the session, not flushed: it goes in with the caller's next flush or commit."""
    model = current_triage(session, state_code)
    suggestion = model.suggest(text)
    record = AiSuggestion(
        id=new_id(),
        state_code=state_code,
        task=TRIAGE,
        model_version=model.version,
        subject=subject,
        input_sha256=hashlib.sha256(text.encode()).hexdigest(),
        output=asdict(suggestion),
    )
    session.add(record)  # written with the caller's next flush (a filing's own), not a flush of its own
    return record.id, suggestion


def label_triage(
    session: Session, state_code: str, text: str, category: str, *, suggestion_id: str | None = None, user_id: str | None = None
) -> AiLabel:
    """An officer's category for a complaint (a correction of the suggestion, or its confirmation),
    kept as training data for the next `nagara ai train`."""
    categories = current_triage(session, state_code).classes
    if category not in categories:
        raise ValueError(f"category {category!r} is not one of the state's triage categories: {', '.join(categories)}")
    if not text.strip():
        raise ValueError("the text of a labelled complaint is empty")
    label_id = new_id()
    label = AiLabel(
        id=label_id,
        state_code=state_code,
        task=TRIAGE,
        label=category,
        text_sealed=runtime_of(session).cipher.encrypt(text, context=f"{LABEL_CONTEXT}:{label_id}"),
        suggestion_id=suggestion_id,
        labelled_by=user_id,
    )
    session.add(label)
    session.flush()
    return label
