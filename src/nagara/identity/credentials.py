"""Credentials and accounts: list, revoke and mint tokens and API keys; disable and enable users.

Every change is a row change (``auth_tokens.revoked_at``, ``users.is_active``), so the audit
log records it in the same flush, and ``service.authenticate`` (which caches nothing across
requests) refuses the credential at the next request.

- Every credential expires: sessions after ``NAGARA_SESSION_TTL_HOURS``, bearer tokens after
  ``NAGARA_TOKEN_TTL_HOURS``, API keys after ``NAGARA_API_KEY_TTL_DAYS``.
- A bearer token is minted (``POST /me/tokens``) only with a session or token that came from a
  sign-in (one-time code or password) at most ``NAGARA_TOKEN_MINT_WITHIN_MINUTES`` ago: never
  with an API key, and never with a token that was itself minted.
- Oneself: list and revoke one's own credentials. Administrators: list and revoke another
  user's credentials, and disable or enable them, when ``identity:user:manage`` covers every
  role the user holds. The operator's CLI does the same for anyone.
- Disabling a user revokes every credential they hold; their sessions, tokens and keys stop
  working at the next request (and would anyway: authentication refuses a disabled account).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nagara.identity import service
from nagara.identity.models import AuthToken, RoleAssignment, User
from nagara.kit.access import Principal, require
from nagara.kit.db import memo, utcnow
from nagara.kit.errors import Conflict, Forbidden, NotFound, Problem
from nagara.runtime import runtime_of


class KeyNotSignedOut(Problem):
    status = 400
    type_slug = "api-key-not-signed-out"
    title = "An API key is not signed out"


def signed_in_with(session: Session) -> service.SignedInWith:
    """The credential this request authenticated with (kept by ``service.authenticate``)."""
    current = memo(session).get(service.SIGNED_IN_WITH)
    if not isinstance(current, service.SignedInWith):
        raise Forbidden("this request carries no credential of yours")
    return current


def active(session: Session, user_id: str) -> list[AuthToken]:
    """The user's credentials that still work: not revoked, not expired; oldest first."""
    now = utcnow()
    query = select(AuthToken).where(
        AuthToken.user_id == user_id,
        AuthToken.revoked_at.is_(None),
        or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now),
    )
    return list(session.scalars(query.order_by(AuthToken.created_at, AuthToken.id)))


def active_of(session: Session, user_ids: list[str]) -> dict[str, list[AuthToken]]:
    """:func:`active` for several users in one query (an administration page's list of officers)."""
    found: dict[str, list[AuthToken]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return found
    now = utcnow()
    query = select(AuthToken).where(
        AuthToken.user_id.in_(user_ids),
        AuthToken.revoked_at.is_(None),
        or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now),
    )
    for token in session.scalars(query.order_by(AuthToken.created_at, AuthToken.id)):
        found[token.user_id].append(token)
    return found


def mint(session: Session, principal: Principal, *, label: str) -> str:
    """A bearer token for scripts acting as oneself, from a recent interactive sign-in only."""
    current = signed_in_with(session)
    if current.kind == "api_key" or current.origin != "sign_in":
        raise Forbidden(
            "a bearer token can only be created right after signing in with a one-time code or a password "
            "(not with an API key, and not with a token that was itself created); sign in again"
        )
    within = runtime_of(session).settings.token_mint_within_minutes
    if current.created_at <= utcnow() - timedelta(minutes=within):
        raise Forbidden(f"sign in again: a bearer token can only be created within {within} minutes of signing in")
    user = service.get_user(session, principal, principal.user_id)
    return service.issue_token(session, user, "bearer", label=label, origin="minted")


def sign_out(session: Session) -> None:
    """Revoke the session or bearer token this request came with; an API key is refused (400)."""
    current = signed_in_with(session)
    if current.kind == "api_key":
        raise KeyNotSignedOut(
            "an API key is not signed out and still works; revoke it with DELETE /api/v1/me/tokens/{id} "
            "(GET /api/v1/me/tokens lists your keys with their ids)",
            extra={"token_id": current.token_id},
        )
    _revoke(session, session.get(AuthToken, current.token_id))


def _revoke(session: Session, token: AuthToken | None) -> None:
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()


def managed_user(session: Session, principal: Principal | None, user_ref: str) -> User:
    """A user whose credentials and account the caller manages: ``identity:user:manage`` over every
    role they hold (so no administrator reaches someone who also holds a role above them).
    ``principal=None`` is the operator's CLI: ``user_ref`` is a username, id or mobile number."""
    if principal is None:
        return service.find_user(session, user_ref)
    user = service.get_user(session, principal, user_ref)
    if user.id == principal.user_id:
        return user
    for ra in session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)):
        require(
            principal,
            "identity:user:manage",
            state_code=ra.state_code,
            local_body_code=ra.local_body_code,
            ward_code=ra.ward_code,
        )
    return user


def listing(session: Session, principal: Principal | None, user: User) -> list[AuthToken]:
    if principal is not None and user.id == principal.user_id:
        service.get_user(session, principal, user.id)  # one's own profile permission
    return active(session, user.id)


def revoke(session: Session, user: User, token_id: str) -> AuthToken:
    """Revoke one of ``user``'s credentials (found with :func:`managed_user`, or oneself). Idempotent."""
    token = session.scalar(select(AuthToken).where(AuthToken.id == token_id, AuthToken.user_id == user.id))
    if token is None:
        raise NotFound(f"no token or key {token_id!r} of this user")
    _revoke(session, token)
    return token


def set_active(session: Session, principal: Principal | None, user: User, *, enabled: bool) -> User:
    """Disable (revoking every credential) or enable a user found with :func:`managed_user`."""
    if principal is not None and user.id == principal.user_id:
        raise Conflict("you cannot disable or enable your own account; ask another administrator")
    user.is_active = enabled
    if not enabled:
        now = utcnow()
        for token in active(session, user.id):
            token.revoked_at = now
    session.flush()
    return user
