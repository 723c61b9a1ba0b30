"""What the assistants keep: trained models, every suggestion made (for audit replay) and the labels
officers give (training data for the next model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, utcnow

TRIAGE = "triage"


class AiModel(IdMixin, Base):
    """A trained model of one state: its model bytes written once, never changed. The row with the latest
    ``trained_at`` (the time it became current) is the one used; a row of version ``off`` (no model)
    turns the task off for the state."""

    __tablename__ = "ai_models"
    __table_args__ = (
        UniqueConstraint("state_code", "task", "version"),  # one "off" row per state and task, made current again as needed
        Index("ix_ai_models_current", "state_code", "task", "trained_at"),
    )
    __audited__ = False  # a model is a derived artefact; the command that trains it is the audited act

    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    task: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    examples: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # examples per language, "correction" for labels
    model: Mapped[bytes] = mapped_column(LargeBinary)


class AiSuggestion(IdMixin, Base):
    """One suggestion as it was made: the model version and a hash of the input (whose text stays with
    its subject, a grievance), and what was suggested, so an audit can replay it."""

    __tablename__ = "ai_suggestions"
    __table_args__ = (Index("ix_ai_suggestions_subject", "subject"),)
    __audited__ = False  # written on every suggestion; it is itself the record of what the model said

    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    task: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(100))  # what it was about: "grievance:<id>"
    input_sha256: Mapped[str] = mapped_column(String(64))
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.state_code


class AiLabel(IdMixin, Base):
    """A category an officer gave a text (correcting or confirming a suggestion): training data.
    The text is sealed (a complaint may name people); the trainer opens it."""

    __tablename__ = "ai_labels"
    __table_args__ = (Index("ix_ai_labels_state", "state_code", "task"),)

    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    task: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    text_sealed: Mapped[str] = mapped_column(Text)
    suggestion_id: Mapped[str | None] = mapped_column(ForeignKey("ai_suggestions.id"))
    labelled_by: Mapped[str | None] = mapped_column(String(36))  # the officer's user id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.state_code
