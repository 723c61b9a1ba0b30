"""Domain events: how one domain reacts to another's change without being called by it.

A domain announces a fact with :func:`emit` inside the unit of work that caused it
(the workflow engine emits ``Submitted``, ``Decided`` and the rest). Handlers are
registered with :func:`subscribe`, in ``nagara/domains.py``, so the emitting domain
imports none of the domains that listen:

- an ordinary handler runs at once, in the same transaction: what it writes commits
  or rolls back with the change that caused it (a fee demand, a certificate);
- an ``after_commit`` handler goes through the outbox (the jobs table, written in
  the same transaction): a rolled-back change sends nothing, a crash after commit
  loses nothing, and the handler runs at least once, in a job of its own, with the
  event's :meth:`Event.payload` (plain JSON, no rows).

A handler subscribed to an event class also receives its subclasses (``Withdrawn``
is a ``Decided``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from nagara.worker.registry import enqueue, task


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact, named in the past tense. Subclasses add the rows and values handlers need."""

    def payload(self) -> dict[str, Any]:
        """What an after-commit handler receives: plain JSON, enough to load what it needs."""
        return {}


E = TypeVar("E", bound=Event)
Handler = Callable[[Session, Any], None]
JobHandler = Callable[[Session, dict[str, Any]], None]


@dataclass(frozen=True)
class Subscription:
    event: type[Event]
    handler: Callable[..., None]
    job: str | None  # the outbox job that runs an after-commit handler


_SUBSCRIPTIONS: list[Subscription] = []


def subscribe(event: type[E], handler: Callable[[Session, E], None]) -> None:
    """Run ``handler(session, event)`` in the emitting transaction for every ``event`` emitted."""
    if not any(s.event is event and s.handler is handler for s in _SUBSCRIPTIONS):
        _SUBSCRIPTIONS.append(Subscription(event, handler, None))


def subscribe_after_commit(event: type[Event], job: str, handler: JobHandler) -> None:
    """Run ``handler(session, payload)`` after the emitting transaction commits, through the outbox job ``job``."""
    task(job)(handler)  # refuses a job name already taken by another handler
    if not any(s.job == job for s in _SUBSCRIPTIONS):
        _SUBSCRIPTIONS.append(Subscription(event, handler, job))


def subscriptions(event: type[Event]) -> list[Subscription]:
    return [s for s in _SUBSCRIPTIONS if issubclass(event, s.event)]


def emit(session: Session, event: Event) -> None:
    """Announce ``event``: in-transaction handlers run now, in order of subscription; after-commit ones are queued."""
    for sub in subscriptions(type(event)):
        if sub.job is None:
            sub.handler(session, event)
        else:
            enqueue(session, sub.job, {"event": type(event).__name__, **event.payload()})


def unsubscribe(handler: Callable[..., None]) -> None:
    """Remove every subscription of ``handler`` (its outbox job, if any, stays registered for queued jobs)."""
    _SUBSCRIPTIONS[:] = [s for s in _SUBSCRIPTIONS if s.handler is not handler]
