"""Job handlers and schedules, registered by name.

A handler receives the job's unit-of-work session and payload; its writes commit
together with the job's completion, so a handler whose effects are all in the
database runs exactly once in effect. Handlers with outside effects (an SMS)
must tolerate being run again: delivery is at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from nagara.kit.db import new_id
from nagara.worker.models import Job

Handler = Callable[[Session, dict[str, Any]], None]


@dataclass(frozen=True)
class Schedule:
    name: str
    every_seconds: int
    payload: dict[str, Any]


HANDLERS: dict[str, Handler] = {}
SCHEDULES: dict[str, Schedule] = {}
SINGLE_RUNNER: set[str] = set()


def task(name: str, *, single_runner: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in HANDLERS and HANDLERS[name] is not fn:
            raise ValueError(f"job handler {name!r} registered twice")
        HANDLERS[name] = fn
        if single_runner:
            SINGLE_RUNNER.add(name)
        return fn

    return register


def every(seconds: int, name: str, payload: dict[str, Any] | None = None) -> None:
    """Run job ``name`` once per ``seconds`` across all workers."""
    SCHEDULES[name] = Schedule(name=name, every_seconds=seconds, payload=payload or {})


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> Job:
    """Add a job to the outbox in the caller's transaction; it is visible to workers only after commit."""
    if name not in HANDLERS:
        raise KeyError(f"no job handler named {name!r}; known: {sorted(HANDLERS)}")
    job = Job(name=name, payload=payload, dedupe_key=dedupe_key or f"job:{new_id()}", max_attempts=max_attempts)
    session.add(job)
    return job
