"""FastAPI dependencies: the request's unit of work and the authenticated principal."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated

import anyio
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from nagara.identity import service
from nagara.kit import context
from nagara.kit.access import Principal
from nagara.kit.db import take_owed_writes
from nagara.kit.errors import Forbidden, NotAuthenticated
from nagara.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def unit_of_work(request: Request) -> AsyncIterator[Session]:
    """The request's one transaction: committed before the response is sent, rolled back on error.

    An async dependency on purpose: opening a session does no I/O and the commit
    is short, and a synchronous generator dependency would hold a thread-pool
    thread for the whole request (measured: it halves throughput, and deadlocks
    a small pool). The endpoint itself runs in the pool.
    """
    runtime = get_runtime(request)
    readonly = request.method in SAFE_METHODS
    # At most as many requests hold a session as the pool has connections, so taking a
    # connection never blocks the event loop (which would stall every request in flight).
    owed: list[Callable[[Session], None]] = []
    async with runtime.db_slots, runtime.writer_slot(readonly=readonly):
        with runtime.db.unit_of_work(readonly=readonly) as session:
            yield session
            owed = take_owed_writes(session)  # reached only when the endpoint succeeded
    if owed:  # what a read must write (who looked at whose data): after its commit, in a writing turn
        async with runtime.db_slots, runtime.writer_slot(readonly=False):
            await anyio.to_thread.run_sync(partial(runtime.db.write_owed, owed))


DbSession = Annotated[Session, Depends(unit_of_work, scope="function")]


def csrf_token_for(runtime: Runtime, raw_session: str) -> str:
    return hmac.new(runtime.secret.encode(), b"csrf:" + hashlib.sha256(raw_session.encode()).digest(), "sha256").hexdigest()


def _credentials(request: Request) -> tuple[str, tuple[str, ...]] | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), ("bearer", "api_key")
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip(), ("api_key",)
    cookie = request.cookies.get(get_runtime(request).settings.session_cookie)
    if cookie:
        return cookie, ("session",)
    return None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _check_csrf(request: Request, raw_session: str) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(FORM_TYPES):
        # A page's form without JavaScript sends the token as a hidden field (see nagara.web.csrf).
        field = (await request.form()).get("csrf_token")
        sent = field if isinstance(field, str) else ""
    if not sent or not hmac.compare_digest(sent, csrf_token_for(get_runtime(request), raw_session)):
        raise Forbidden(
            "missing or wrong CSRF token: send the X-CSRF-Token header given at sign-in (or a form's csrf_token field)"
        )


async def current_principal(request: Request, session: DbSession) -> Principal:
    """The authenticated caller; 401 without valid credentials. Never trusts a client-sent identity."""
    creds = _credentials(request)
    if creds is None:
        raise NotAuthenticated(
            "sign in first: send 'Authorization: Bearer <token>', an 'X-API-Key' header, or the session cookie"
        )
    raw, kinds = creds
    # In a pool thread: authentication waits on the database, and on the event loop that wait
    # would hold up every other request in flight (measured: /api/v1/me 550 -> 592 a second).
    principal = await anyio.to_thread.run_sync(partial(service.authenticate, session, raw, kinds=kinds))
    if principal.token_kind == "session":
        await _check_csrf(request, raw)
    context.bind_actor(principal.user_id, principal.kind)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def page_principal(request: Request, session: DbSession) -> Principal | None:
    """For pages: the signed-in person from the session cookie, or None (never raises for a bad cookie).

    Unsafe methods still need the CSRF token, so a page's POST handler can rely on it.
    """
    raw = request.cookies.get(get_runtime(request).settings.session_cookie)
    if not raw:
        return None
    try:
        principal = await anyio.to_thread.run_sync(partial(service.authenticate, session, raw, kinds=("session",)))
    except NotAuthenticated:
        return None
    await _check_csrf(request, raw)
    context.bind_actor(principal.user_id, principal.kind)
    request.state.principal = principal
    request.state.page_principal = principal
    return principal


PagePrincipal = Annotated[Principal | None, Depends(page_principal)]


def set_session_cookie(runtime: Runtime, response: Response, raw: str) -> None:
    """The web session cookie: HTTP-only, SameSite=Lax, Secure unless configured off for development."""
    response.set_cookie(
        runtime.settings.session_cookie,
        raw,
        max_age=runtime.settings.session_ttl_hours * 3600,
        httponly=True,
        secure=runtime.settings.cookie_secure,
        samesite="lax",
    )
