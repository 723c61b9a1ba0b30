"""Who is acting, from where, in which request: carried through a context variable.

Set by the HTTP middleware and the authentication dependency, or by the worker
for a job, and read by the audit recorder so every write says who made it.

The context object is mutable on purpose: FastAPI runs dependencies and
endpoints in thread-pool threads, each with a *copy* of the context, so the
authentication dependency must change the shared object, not rebind the variable.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass
class ActorContext:
    request_id: str = ""
    actor_id: str | None = None
    actor_kind: str = "anonymous"  # anonymous | citizen | officer | partner | system
    ip: str | None = None
    user_agent: str | None = None
    via: str = "api"  # api | web | cli | worker


_DEFAULT = ActorContext()
_current: contextvars.ContextVar[ActorContext] = contextvars.ContextVar("nagara_actor", default=_DEFAULT)


def current() -> ActorContext:
    return _current.get()


def set_context(ctx: ActorContext) -> contextvars.Token[ActorContext]:
    return _current.set(ctx)


def reset_context(token: contextvars.Token[ActorContext]) -> None:
    _current.reset(token)


def bind_actor(actor_id: str | None, actor_kind: str) -> None:
    """Record the authenticated actor on the current context."""
    ctx = _current.get()
    if ctx is _DEFAULT:
        ctx = ActorContext()
        _current.set(ctx)
    ctx.actor_id = actor_id
    ctx.actor_kind = actor_kind
