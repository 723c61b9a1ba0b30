"""Identity operations: one-time codes, officer sign-in, tokens, principals, officers and roles.

Services flush; the caller's unit of work commits. Authorisation is checked
here, not in the routers.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, event, func, select
from sqlalchemy.orm import Session, object_session

from nagara.audit import service as audit
from nagara.identity.models import AuthToken, OtpChallenge, RoleAssignment, User
from nagara.kit.access import Grant, Principal, require, require_any, scope
from nagara.kit.crypto import random_token, sha256_hex
from nagara.kit.db import memo, utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound, TooManyRequests
from nagara.kit.text import strip_bidi
from nagara.runtime import Runtime, runtime_of
from nagara.tenancy import context as tenancy
from nagara.tenancy.models import Role, State, Ward
from nagara.worker.registry import enqueue, task

MOBILE_RE = re.compile(r"^(?:\+91|91|0)?([6-9]\d{9})$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
TOKEN_PREFIX = {"session": "ngs_", "bearer": "ngt_", "api_key": "ngk_"}
LOCKOUT = timedelta(minutes=15)


def field_error(field: str, msg: str, type_: str = "value_error") -> Invalid:
    return Invalid(msg, [{"loc": ["body", field], "msg": msg, "type": type_}])


def normalise_mobile(raw: str) -> str:
    """An Indian mobile number as ``+91XXXXXXXXXX``."""
    match = MOBILE_RE.match(re.sub(r"[\s-]", "", raw or ""))
    if not match:
        raise field_error("mobile", "enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9 (with or without +91)")
    return "+91" + match.group(1)


def mobile_index(runtime: Runtime, state_code: str, mobile: str) -> str:
    return runtime.cipher.blind_index(mobile, purpose=f"mobile:{state_code}")


def _code_hash(runtime: Runtime, challenge_id: str, code: str) -> str:
    return hmac.new(runtime.secret.encode(), f"otp:{challenge_id}:{code}".encode(), "sha256").hexdigest()


def _state(session: Session, state_code: str) -> tenancy.StateInfo:
    tenant = tenancy.parse_tenant(state_code)
    if tenant.local_body is not None:
        raise field_error("state", f"unknown state {state_code!r}")
    try:
        return tenancy.place(session, tenant.state).state
    except NotFound:
        raise field_error("state", f"unknown state {state_code!r}") from None


# --- citizens: one-time codes -------------------------------------------------


@dataclass(frozen=True)
class OtpIssued:
    challenge_id: str
    expires_in: int


@dataclass(frozen=True)
class Consent:
    """What a consent code allows: one operator applying for one service at one local body."""

    operator_id: str
    local_body_code: str
    service_code: str
    message: str = ""  # the SMS, with ``{code}`` and ``{minutes}`` to fill in

    @property
    def subject(self) -> str:
        return f"{self.local_body_code}/{self.service_code}"


def request_otp(session: Session, *, state_code: str, mobile: str, ip: str | None, consent: Consent | None = None) -> OtpIssued:
    """Send a one-time code, within the per-number and per-address hourly limits.

    With ``consent`` the code is the citizen's consent to an operator applying for them
    (assisted access); it cannot sign in, and a sign-in code cannot give consent.
    """
    runtime = runtime_of(session)
    settings = runtime.settings
    _state(session, state_code)
    number = normalise_mobile(mobile)
    index = mobile_index(runtime, state_code, number)
    now = utcnow()
    hour_ago = now - timedelta(hours=1)

    def recent(*where: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(OtpChallenge).where(OtpChallenge.created_at > hour_ago, *where)
        return int(session.scalar(query) or 0)

    if recent(OtpChallenge.mobile_index == index) >= settings.otp_per_number_per_hour:
        audit.record(session, "identity.otp.rate_limited", data={"by": "number"}, tenant_code=state_code)
        raise TooManyRequests(
            f"too many codes for this number; at most {settings.otp_per_number_per_hour} an hour. Try again later.",
            retry_after=3600,
            keep_changes=True,
        )
    if ip and recent(OtpChallenge.ip == ip) >= settings.otp_per_address_per_hour:
        audit.record(session, "identity.otp.rate_limited", data={"by": "address"}, tenant_code=state_code)
        raise TooManyRequests(
            f"too many codes from this network address; at most {settings.otp_per_address_per_hour} an hour.",
            retry_after=3600,
            keep_changes=True,
        )
    code = "".join(secrets.choice("0123456789") for _ in range(settings.otp_length))
    challenge = OtpChallenge(
        id=random_token(16),
        mobile_index=index,
        ip=ip,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        purpose="consent" if consent else "sign_in",
        consent_for=consent.subject if consent else None,
        requested_by_id=consent.operator_id if consent else None,
    )
    challenge.code_hash = _code_hash(runtime, challenge.id, code)
    session.add(challenge)
    minutes = settings.otp_ttl_seconds // 60
    if consent is not None:
        text = consent.message.replace("{code}", code).replace("{minutes}", str(minutes))
    else:
        text = f"{code} is your Nagara sign-in code. It expires in {minutes} minutes. Do not share it."
    enqueue(
        session,
        "identity.send_sms",
        {"to": runtime.cipher.encrypt(number, context="sms"), "text": runtime.cipher.encrypt(text, context="sms")},
        dedupe_key=f"otp:{challenge.id}",
    )
    session.flush()
    return OtpIssued(challenge.id, settings.otp_ttl_seconds)


@task("identity.send_sms")
def send_sms_job(session: Session, payload: dict[str, str]) -> None:
    runtime = runtime_of(session)
    to = runtime.cipher.decrypt(payload["to"], context="sms")
    text = runtime.cipher.decrypt(payload["text"], context="sms")
    runtime.sms.send(to, text, idempotency_key=sha256_hex(payload["to"] + payload["text"]))


def verify_otp(
    session: Session, *, state_code: str, challenge_id: str, mobile: str, code: str, consent: Consent | None = None
) -> User:
    """Check a code; on success return the citizen, registering them on first sign-in.

    A consent code is checked against ``consent`` (the same operator, body and service).
    """
    runtime = runtime_of(session)
    settings = runtime.settings
    number = normalise_mobile(mobile)
    index = mobile_index(runtime, state_code, number)
    challenge = session.get(OtpChallenge, challenge_id)
    if challenge is None or challenge.mobile_index != index:
        raise field_error("code", "this code request is not known for this number; ask for a new code")
    if consent is None and challenge.purpose != "sign_in":
        raise field_error("code", "this is a consent code for an operator, not a sign-in code; ask for a sign-in code")
    if consent is not None and (
        challenge.purpose != "consent"
        or challenge.consent_for != consent.subject
        or challenge.requested_by_id != consent.operator_id
    ):
        raise field_error("code", "this code is not the citizen's consent to you for this service here; send them a consent code")
    now = utcnow()
    if challenge.consumed_at is not None:
        raise field_error("code", "this code was already used; ask for a new code")
    if challenge.expires_at <= now:
        raise field_error("code", "this code has expired; ask for a new code")
    if challenge.attempts >= settings.otp_max_attempts:
        raise TooManyRequests("too many wrong codes; ask for a new code", retry_after=60)
    challenge.attempts += 1
    if not hmac.compare_digest(challenge.code_hash, _code_hash(runtime, challenge.id, (code or "").strip())):
        session.flush()
        left = settings.otp_max_attempts - challenge.attempts
        if left <= 0:
            raise TooManyRequests("too many wrong codes; ask for a new code", retry_after=60, keep_changes=True)
        raise Invalid(
            "wrong code",
            [{"loc": ["body", "code"], "msg": f"the code is wrong; {left} attempt(s) left", "type": "value_error"}],
            keep_changes=True,
        )
    challenge.consumed_at = now
    user = session.scalar(select(User).where(User.mobile_index == index))
    if user is None:
        user = User(
            kind="citizen",
            state_code=state_code,
            mobile_index=index,
            mobile_sealed=runtime.cipher.encrypt(number, context="mobile"),
            language=_state(session, state_code).languages[0],
        )
        session.add(user)
        session.flush()
        session.add(RoleAssignment(user_id=user.id, state_code=state_code, role_code="citizen"))
    if not user.is_active:
        raise Forbidden("this account is disabled; contact the local body")
    session.flush()
    return user


# --- officers: password and TOTP ----------------------------------------------


def officer_login(session: Session, *, username: str, password: str, totp_code: str) -> User:
    runtime = runtime_of(session)
    user = session.scalar(select(User).where(User.username == username.strip().lower(), User.kind == "officer"))
    failure = NotAuthenticated("the username, password or authenticator code is wrong", keep_changes=True)
    if user is None or user.password_hash is None:
        runtime.hasher.hash(password)  # same work as a real check, so timing does not reveal usernames
        audit.record(session, "identity.login.failed", data={"reason": "unknown user"})
        raise failure
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise TooManyRequests(
            "too many failed sign-ins; this account is locked for a few minutes",
            retry_after=int((user.locked_until - now).total_seconds()) + 1,
        )
    ok = False
    try:
        ok = runtime.hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and user.totp_sealed:
        secret = runtime.cipher.decrypt(user.totp_sealed, context="totp")
        ok = pyotp.TOTP(secret).verify((totp_code or "").strip(), valid_window=1)
    if not ok or not user.is_active:
        user.failed_logins += 1
        if user.failed_logins >= runtime.settings.login_max_failures:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        audit.record(session, "identity.login.failed", entity_type="users", entity_id=user.id, tenant_code=user.state_code)
        session.flush()
        raise failure
    user.failed_logins = 0
    user.locked_until = None
    if runtime.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = runtime.hasher.hash(password)
    session.flush()
    return user


# --- tokens and principals ----------------------------------------------------


def issue_token(session: Session, user: User, kind: str, *, label: str | None = None, ttl: timedelta | None = None) -> str:
    """Create a secret for ``user``; only its hash is stored. Returns the secret (shown once)."""
    settings = runtime_of(session).settings
    if ttl is None and kind == "session":
        ttl = timedelta(hours=settings.session_ttl_hours)
    elif ttl is None and kind == "bearer":
        ttl = timedelta(hours=settings.token_ttl_hours)
    raw = TOKEN_PREFIX[kind] + random_token(32)
    session.add(
        AuthToken(
            user_id=user.id,
            kind=kind,
            token_hash=sha256_hex(raw),
            label=label,
            expires_at=utcnow() + ttl if ttl else None,
        )
    )
    session.flush()
    return raw


def revoke_token(session: Session, raw: str) -> None:
    token = session.scalar(select(AuthToken).where(AuthToken.token_hash == sha256_hex(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()


def _grants(rows: Any) -> tuple[Grant, ...]:
    return tuple(
        Grant(
            role=r.role_code,
            scope=r.scope,
            state_code=r.state_code,
            local_body_code=r.local_body_code,
            ward_code=r.ward_code,
            section=r.section,
            permissions=frozenset(r.permissions),
        )
        for r in rows
        if r.role_code is not None
    )


_GRANT_COLUMNS = (
    RoleAssignment.role_code,
    Role.scope,
    RoleAssignment.state_code,
    RoleAssignment.local_body_code,
    RoleAssignment.ward_code,
    RoleAssignment.section,
    Role.permissions,
)
_ROLE_JOIN = (Role.state_code == RoleAssignment.state_code) & (Role.code == RoleAssignment.role_code)


def load_principal(session: Session, user: User, token_kind: str) -> Principal:
    rows = session.execute(select(*_GRANT_COLUMNS).join(Role, _ROLE_JOIN).where(RoleAssignment.user_id == user.id)).all()
    return Principal(user_id=user.id, kind=user.kind, state_code=user.state_code, grants=_grants(rows), token_kind=token_kind)


# One round trip for every authenticated request: the token, its user and their grants. Nothing
# is cached across requests, so a revoked token or role, or a disabled account, stops working at
# the next request (tests/identity/test_authentication_cost.py).
_AUTHENTICATE = (
    select(
        AuthToken.kind.label("token_kind"),
        AuthToken.expires_at,
        AuthToken.revoked_at,
        User,
        *_GRANT_COLUMNS,
        RoleAssignment.id.label("assignment_id"),
        RoleAssignment.created_at.label("assigned_at"),
    )
    .select_from(AuthToken)
    .join(User, User.id == AuthToken.user_id)
    .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
    .outerjoin(Role, _ROLE_JOIN)
    .where(AuthToken.token_hash == bindparam("token_hash"))
)

# The signed-in user's row, kept in the unit of work's memo: the identity map holds
# rows weakly, and with this reference ``session.get(User, principal.user_id)`` (the profile,
# /api/v1/me) finds the row that authentication read instead of asking the database again.
SIGNED_IN_USER = "identity.signed_in_user"
# And their role assignments as ``describe`` shows them, from the same rows.
SIGNED_IN_ROLES = "identity.signed_in_roles"


def authenticate(session: Session, raw: str, *, kinds: tuple[str, ...]) -> Principal:
    """The principal behind a session cookie, bearer token or API key; 401 when it is not valid."""
    rows = session.execute(_AUTHENTICATE, {"token_hash": sha256_hex(raw)}).all()
    if not rows or rows[0].token_kind not in kinds or rows[0].revoked_at is not None:
        raise NotAuthenticated("the credentials are not valid; sign in again")
    first = rows[0]
    if first.expires_at is not None and first.expires_at <= utcnow():
        raise NotAuthenticated("the session has expired; sign in again")
    user: User = first.User
    if not user.is_active:
        raise NotAuthenticated("this account is disabled")
    kept = memo(session)
    kept[SIGNED_IN_USER] = user
    kept[SIGNED_IN_ROLES] = [
        _role_out(r.assignment_id, r.role_code, r.state_code, r.local_body_code, r.ward_code, r.section)
        for r in sorted((r for r in rows if r.assignment_id is not None), key=lambda r: r.assigned_at)
    ]
    return Principal(
        user_id=user.id, kind=user.kind, state_code=user.state_code, grants=_grants(rows), token_kind=first.token_kind
    )


# --- users, officers, roles -----------------------------------------------------


def _role_out(
    assignment_id: str, role: str, state: str, local_body: str | None, ward: str | None, section: str | None
) -> dict[str, object]:
    return {"id": assignment_id, "role": role, "state": state, "local_body": local_body, "ward": ward, "section": section}


def _assignments_pending(session: Session) -> bool:
    return any(isinstance(row, RoleAssignment) for row in (*session.new, *session.dirty, *session.deleted))


@event.listens_for(RoleAssignment, "after_insert")
@event.listens_for(RoleAssignment, "after_update")
@event.listens_for(RoleAssignment, "after_delete")
def _forget_signed_in_roles(_mapper: Any, _connection: Any, assignment: RoleAssignment) -> None:
    """A role granted, changed or revoked in this unit of work: the roles read at sign-in are stale."""
    session = object_session(assignment)
    if session is not None:
        memo(session).pop(SIGNED_IN_ROLES, None)


def describe(session: Session, user: User) -> dict[str, object]:
    runtime = runtime_of(session)
    kept = memo(session)
    roles = kept.get(SIGNED_IN_ROLES) if kept.get(SIGNED_IN_USER) is user and not _assignments_pending(session) else None
    if roles is None:  # another user, or the signed-in user's roles changed in this unit of work
        roles = [
            _role_out(ra.id, ra.role_code, ra.state_code, ra.local_body_code, ra.ward_code, ra.section)
            for ra in session.scalars(
                select(RoleAssignment).where(RoleAssignment.user_id == user.id).order_by(RoleAssignment.created_at)
            )
        ]
    return {
        "id": user.id,
        "kind": user.kind,
        "state": user.state_code,
        "username": user.username,
        "name": runtime.cipher.decrypt(user.name_sealed, context="name") if user.name_sealed else None,
        "mobile": runtime.cipher.decrypt(user.mobile_sealed, context="mobile") if user.mobile_sealed else None,
        "language": user.language,
        "is_active": user.is_active,
        "roles": roles,
    }


def _visible_users(principal: Principal) -> ColumnElement[bool]:
    return scope(
        principal,
        "identity:user:read",
        state_col=RoleAssignment.state_code,
        local_body_col=RoleAssignment.local_body_code,
        ward_col=RoleAssignment.ward_code,
    )


def get_user(session: Session, principal: Principal, user_id: str) -> User:
    """Oneself, or an officer whose roles lie within the caller's jurisdiction; 404 otherwise."""
    if user_id == principal.user_id:
        require(principal, "identity:profile:read", owner_id=principal.user_id, state_code=principal.state_code)
        own = session.get(User, user_id)
        if own is None:
            raise NotFound("no such user")
        return own
    require_any(principal, "identity:user:read")
    user: User | None = session.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.id == user_id, User.kind != "citizen", _visible_users(principal))
        .limit(1)
    )
    if user is None:
        raise NotFound("no such user within your jurisdiction")
    return user


def list_users(session: Session, principal: Principal, *, local_body_code: str | None = None) -> list[User]:
    require_any(principal, "identity:user:read")
    query = (
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.kind != "citizen", _visible_users(principal))
    )
    if local_body_code:
        query = query.where(RoleAssignment.local_body_code == local_body_code)
    return list(session.scalars(query.distinct().order_by(User.username)))


def update_profile(session: Session, principal: Principal, *, name: str | None, language: str | None) -> User:
    require(principal, "identity:profile:update", owner_id=principal.user_id, state_code=principal.state_code)
    runtime = runtime_of(session)
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("no such user")
    if name is not None:
        name = strip_bidi(name).strip()
        if not 1 <= len(name) <= 120:
            raise field_error("name", "the name must be 1 to 120 characters")
        user.name_sealed = runtime.cipher.encrypt(name, context="name")
    if language is not None:
        allowed = ["en", "hi", "ml", "kn"]
        if language not in allowed:
            raise field_error("language", f"language must be one of {', '.join(allowed)}")
        user.language = language
    session.flush()
    return user


@dataclass(frozen=True)
class Place:
    state_code: str
    local_body_code: str | None = None
    ward_code: str | None = None
    section: str | None = None


def _check_place(session: Session, role: Role, place: Place) -> None:
    if role.scope == "self":
        raise field_error("role", f"role {role.code!r} is held by citizens themselves and is not granted")
    if role.scope == "state" and (place.local_body_code or place.ward_code):
        raise field_error("local_body", f"role {role.code!r} is held state-wide; do not give a local body or ward")
    if role.scope in ("local_body", "ward") and not place.local_body_code:
        raise field_error("local_body", f"role {role.code!r} is held within a local body; give its code, such as 'kl.tvm-corp'")
    if role.scope == "ward" and not place.ward_code:
        raise field_error("ward", f"role {role.code!r} is held within a ward; give its code")
    if place.local_body_code:
        try:
            body: tenancy.LocalBodyInfo | None = tenancy.body_place(session, place.local_body_code).body
        except NotFound:
            body = None
        if body is None or body.state_code != place.state_code:
            raise field_error("local_body", f"no local body {place.local_body_code!r} in state {place.state_code!r}")
    if place.ward_code:
        ward = session.get(Ward, place.ward_code)
        if ward is None or ward.local_body_code != place.local_body_code:
            raise field_error("ward", f"no ward {place.ward_code!r} in {place.local_body_code!r}")


def _require_manage(principal: Principal, place: Place) -> None:
    require(
        principal,
        "identity:user:manage",
        state_code=place.state_code,
        local_body_code=place.local_body_code,
        ward_code=place.ward_code,
    )


def grant_role(session: Session, principal: Principal | None, user: User, role_code: str, place: Place) -> RoleAssignment:
    """Give ``user`` a role at ``place``. ``principal=None`` is the operator's CLI, trusted."""
    role = session.get(Role, (place.state_code, role_code))
    if role is None:
        known = ", ".join(session.scalars(select(Role.code).where(Role.state_code == place.state_code).order_by(Role.code)))
        raise field_error("role", f"no role {role_code!r} in state {place.state_code!r}; roles: {known}")
    _check_place(session, role, place)
    if principal is not None:
        _require_manage(principal, place)
    exists = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role_code == role_code,
            RoleAssignment.state_code == place.state_code,
            RoleAssignment.local_body_code.is_(None)
            if place.local_body_code is None
            else RoleAssignment.local_body_code == place.local_body_code,
            RoleAssignment.ward_code.is_(None) if place.ward_code is None else RoleAssignment.ward_code == place.ward_code,
            RoleAssignment.section.is_(None) if place.section is None else RoleAssignment.section == place.section,
        )
    )
    if exists is not None:
        raise Conflict(f"{user.username or user.id} already holds {role_code!r} there")
    ra = RoleAssignment(
        user_id=user.id,
        state_code=place.state_code,
        role_code=role_code,
        local_body_code=place.local_body_code,
        ward_code=place.ward_code,
        section=place.section,
        granted_by=principal.user_id if principal else None,
    )
    session.add(ra)
    session.flush()
    return ra


def revoke_role(session: Session, principal: Principal, user_id: str, assignment_id: str) -> None:
    ra = session.get(RoleAssignment, assignment_id)
    if ra is None or ra.user_id != user_id:
        raise NotFound("no such role assignment")
    _require_manage(principal, Place(ra.state_code, ra.local_body_code, ra.ward_code, ra.section))
    session.delete(ra)
    session.flush()


@dataclass(frozen=True)
class NewOfficer:
    user: User
    totp_secret: str


def create_officer(
    session: Session,
    principal: Principal | None,
    *,
    state_code: str,
    username: str,
    name: str,
    password: str,
    role: str,
    place: Place,
    totp_secret: str | None = None,
) -> NewOfficer:
    """Create an officer with one role; returns the TOTP secret to enrol in an authenticator app."""
    runtime = runtime_of(session)
    name = strip_bidi(name).strip()
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise field_error(
            "username", "3 to 80 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if len(password) < 12:
        raise field_error("password", "the password must be at least 12 characters")
    _state(session, state_code)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    if principal is not None:
        _require_manage(principal, place)
    secret = totp_secret or pyotp.random_base32()
    user = User(
        kind="officer",
        state_code=state_code,
        username=username,
        name_sealed=runtime.cipher.encrypt(name, context="name"),
        password_hash=runtime.hasher.hash(password),
        totp_sealed=runtime.cipher.encrypt(secret, context="totp"),
        language=_state(session, state_code).languages[0],
    )
    session.add(user)
    session.flush()
    grant_role(session, principal, user, role, place)
    return NewOfficer(user, secret)


def create_partner(session: Session, *, state_code: str, username: str, name: str, role: str, place: Place) -> tuple[User, str]:
    """A partner system (another department, an aggregator) with an API key. Operator-only (CLI)."""
    runtime = runtime_of(session)
    name = strip_bidi(name).strip()
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise field_error("username", "3 to 80 characters: lowercase letters, digits, '.', '_' or '-'")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(
        kind="partner", state_code=state_code, username=username, name_sealed=runtime.cipher.encrypt(name, context="name")
    )
    session.add(user)
    session.flush()
    grant_role(session, None, user, role, place)
    return user, issue_token(session, user, "api_key", label=f"partner {username}")


def find_user(session: Session, ref: str) -> User:
    """A user by username, id or (citizens) mobile number, for the CLI."""
    user = session.scalar(select(User).where((User.username == ref.lower()) | (User.id == ref)))
    if user is None and MOBILE_RE.match(re.sub(r"[\s-]", "", ref)):
        runtime = runtime_of(session)
        number = normalise_mobile(ref)
        for state_code in session.scalars(select(State.code)):
            user = session.scalar(select(User).where(User.mobile_index == mobile_index(runtime, state_code, number)))
            if user:
                break
    if user is None:
        raise NotFound(f"no user {ref!r}: give a username, a user id or a citizen's mobile number")
    return user
