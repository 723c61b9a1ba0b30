"""Identity operations: one-time codes, officer sign-in, tokens, principals, officers and roles.

Services flush; the caller's unit of work commits. Authorisation is checked
here, not in the routers.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, event, func, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from zxcvbn import zxcvbn

from nagara.audit import service as audit
from nagara.identity.models import AuthToken, OtpChallenge, RoleAssignment, User
from nagara.kit import limits
from nagara.kit.access import Grant, Principal, require, require_any, scope
from nagara.kit.crypto import random_token, sha256_hex
from nagara.kit.db import DriverQuery, memo, utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound, TooManyRequests
from nagara.kit.text import strip_bidi
from nagara.runtime import Runtime, runtime_of
from nagara.tenancy import context as tenancy
from nagara.tenancy.models import Role, State, Ward
from nagara.worker.registry import enqueue, task

MOBILE_RE = re.compile(r"^(?:\+91|91|0)?([6-9]\d{9})$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
USERNAME_MAX = 80
TOKEN_PREFIX = {"session": "ngs_", "bearer": "ngt_", "api_key": "ngk_"}
LOCKOUT = timedelta(minutes=15)
OTP_WINDOW = timedelta(hours=1)


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


# The sign-in SMS in English, with the code first (%(code)s) and how long it lasts (%(minutes)s).
# Pages and the API send it in the person's language: identity/views.py ``sign_in_sms()`` takes
# the same text from the gettext catalogs (identity sits below nagara.web, so it is handed in).
SIGN_IN_SMS = "%(code)s is your Nagara sign-in code. It expires in %(minutes)s minutes. Do not share it."


def request_otp(
    session: Session,
    *,
    state_code: str,
    mobile: str,
    ip: str | None,
    consent: Consent | None = None,
    message: str = SIGN_IN_SMS,
) -> OtpIssued:
    """Send a one-time code, within the per-number and per-address hourly limits.

    ``message`` is the sign-in SMS in the person's language, with ``%(code)s`` and ``%(minutes)s``.

    With ``consent`` the code is the citizen's consent to an operator applying for them
    (assisted access); it cannot sign in, and a sign-in code cannot give consent.
    """
    runtime = runtime_of(session)
    settings = runtime.settings
    _state(session, state_code)
    number = normalise_mobile(mobile)
    index = mobile_index(runtime, state_code, number)
    now = utcnow()
    # Counted before anything is sent, atomically (kit.limits), so parallel requests cannot all
    # read the same old count. A refused request gives its counts back: refusals from one busy
    # address do not use up a citizen's codes, nor the other way round.
    keys = (f"otp:number:{index}", f"otp:address:{ip}" if ip else "")
    limits_ = (settings.otp_per_number_per_hour, settings.otp_per_address_per_hour)
    for i, (key, limit) in enumerate(zip(keys, limits_, strict=True)):
        if not key:
            continue
        hit = limits.hit(session, key, window=OTP_WINDOW)
        if hit.over(limit):
            for taken in keys[: i + 1]:
                if taken:
                    limits.give_back(session, taken)
            by = "number" if i == 0 else "address"
            audit.record(session, "identity.otp.rate_limited", data={"by": by}, tenant_code=state_code)
            message = (
                f"too many codes for this number; at most {limit} an hour. Try again later."
                if by == "number"
                else f"too many codes from this network address; at most {limit} an hour."
            )
            raise TooManyRequests(message, retry_after=hit.retry_after, keep_changes=True)
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
        text = message % {"code": code, "minutes": minutes}
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
    # The challenge's row lock (PostgreSQL; SQLite has one writer) until the transaction ends: parallel
    # tries of one challenge take turns, so its attempts count and its one use hold.
    challenge = session.get(OtpChallenge, challenge_id, with_for_update=True, populate_existing=True)
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


def _login_keys(username: str, ip: str | None) -> tuple[str, str]:
    """The counters of sign-in tries: this username from this address, and this username anywhere.

    A name longer than any username (anything may be typed) is counted by its hash, so the key fits.
    """
    name = username if len(username) <= USERNAME_MAX else sha256_hex(username)
    return f"login:{name}|{(ip or '-')[:64]}", f"login:{name}"


def _totp_step(secret: str, code: str) -> int | None:
    """The time step whose code ``code`` is (the current one or either neighbour), else None."""
    totp = pyotp.TOTP(secret)
    now = utcnow()
    for offset in (0, -1, 1):
        at = now + timedelta(seconds=offset * totp.interval)
        if code and hmac.compare_digest(totp.at(at), code):
            return int(totp.timecode(at))
    return None


def _take_totp_step(session: Session, user: User, step: int) -> bool:
    """Record ``step`` as the user's last accepted one, if it is later than that; atomically.

    One UPDATE that matches only while the stored step is older: of parallel sign-ins with one
    code, exactly one changes the row, so a code signs in once.
    """
    taken = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def officer_login(session: Session, *, username: str, password: str, totp_code: str, ip: str | None = None) -> User:
    """Sign an officer in by password and authenticator code.

    Tries are limited per username from one address (``login_max_failures`` in 15 minutes) and,
    more loosely, per username from every address (``login_max_failures_per_user``): someone
    guessing from elsewhere does not lock the officer out at their usual place, and guessing spread
    over many addresses still stops. Each try is counted before the password is checked (one
    atomic statement, kit.limits), so parallel tries never pass the limit; a right sign-in gives
    its count back and clears this address's.
    """
    runtime = runtime_of(session)
    settings = runtime.settings
    name = (username or "").strip().lower()
    pair_key, user_key = _login_keys(name, ip)
    counted = (
        (pair_key, settings.login_max_failures, "from this address"),
        (user_key, settings.login_max_failures_per_user, "from many addresses"),
    )
    for key, limit, where in counted:
        hit = limits.hit(session, key, window=LOCKOUT)
        if hit.over(limit):
            # Not kept (the unit of work rolls back): a refused try counts nothing more.
            minutes = -(-hit.retry_after // 60)
            raise TooManyRequests(
                f"too many failed sign-ins to this account {where}; it is locked for {minutes} minute(s)",
                retry_after=hit.retry_after,
            )
    user = session.scalar(select(User).where(User.username == name, User.kind == "officer"))
    failure = NotAuthenticated("the username, password or authenticator code is wrong", keep_changes=True)
    if user is None or user.password_hash is None:
        runtime.hasher.hash(password)  # same work as a real check, so timing does not reveal usernames
        audit.record(session, "identity.login.failed", data={"reason": "unknown user"})
        raise failure
    ok = _password_matches(runtime, user, password)
    if ok and user.totp_sealed:
        secret = runtime.cipher.decrypt(user.totp_sealed, context="totp")
        step = _totp_step(secret, (totp_code or "").strip())
        # A code already used (or older than one used) is refused like a wrong one.
        ok = step is not None and _take_totp_step(session, user, step)
    if not ok or not user.is_active:
        audit.record(session, "identity.login.failed", entity_type="users", entity_id=user.id, tenant_code=user.state_code)
        session.flush()
        raise failure
    limits.clear(session, pair_key)
    limits.give_back(session, user_key)
    # The accepted time step was written by one UPDATE, outside the flush that audits rows.
    audit.record(session, "identity.login.succeeded", entity_type="users", entity_id=user.id, tenant_code=user.state_code)
    if runtime.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = runtime.hasher.hash(password)
    session.flush()
    return user


def _password_matches(runtime: Runtime, user: User, password: str) -> bool:
    if user.password_hash is None:
        return False
    try:
        return bool(runtime.hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


# --- passwords: strength, change, reset ---------------------------------------

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
PASSWORD_OWN_REST = 8  # characters besides the holder's own username, name or state, at the least
PASSWORD_MIN_SCORE = 3  # zxcvbn's 0-4: 3 is "safely unguessable" (about 10^8 guesses and more)


def check_password(
    password: str, *, username: str | None, name: str | None, email: str | None = None, state: str | None = None
) -> None:
    """Refuse a password that is short, common or built from what is known of its holder (NIST SP 800-63B 5.1.1.2).

    zxcvbn scores it against dictionaries of common passwords, names and words, keyboard patterns,
    repeats and sequences, and against ``user_inputs``: the username, the name, the email, the
    state, and "nagara". The 422 names what is wrong.
    """
    field = "password"
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise field_error(field, f"the password must be at least {PASSWORD_MIN_LENGTH} characters", "too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise field_error(field, f"the password must be at most {PASSWORD_MAX_LENGTH} characters", "too_long")
    if not password.strip():
        raise field_error(field, "the password cannot be only spaces", "weak_password")
    inputs = [v for v in (username, name, email, state, "nagara") if v]
    for value in list(inputs):
        inputs.extend(part for part in re.split(r"[\s._@-]+", value) if len(part) >= 3)
    result = zxcvbn(password[:100], user_inputs=inputs)
    own_matches = [m for m in result.get("sequence", []) if m.get("dictionary_name") == "user_inputs"]
    own_chars = sum(int(m["j"]) - int(m["i"]) + 1 for m in own_matches)
    if own_matches and len(password) - own_chars < PASSWORD_OWN_REST:
        # Mostly the holder's own username, name or state: guessable by anyone who knows them.
        words = ", ".join(sorted({str(m["matched_word"]) for m in own_matches}))
        raise field_error(
            field,
            f"the password is too easy to guess: it is built from your username, name or state ({words}); "
            "add words of your own that are not about you",
            "weak_password",
        )
    if int(result["score"]) < PASSWORD_MIN_SCORE:
        feedback = result.get("feedback") or {}
        why = (feedback.get("warning") or "").rstrip(".")
        hints = " ".join(feedback.get("suggestions") or [])
        own = sorted(
            {m["matched_word"] for m in result.get("sequence", []) if m.get("dictionary_name") == "user_inputs"},
        )
        if own:
            why = f"it is built from your username, name or state ({', '.join(own)})"
        detail = "the password is too easy to guess" + (f": {why[0].lower() + why[1:]}" if why else "")
        raise field_error(field, detail + (f". {hints}" if hints else ""), "weak_password")


def _end_other_sessions(session: Session, user: User, keep_hash: str | None) -> int:
    """Revoke the user's sessions and bearer tokens except the one in use (API keys are systems', not a person's)."""
    now = utcnow()
    query = (
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None), AuthToken.kind.in_(("session", "bearer")))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if keep_hash is not None:
        query = query.where(AuthToken.token_hash != keep_hash)
    ended = int(getattr(session.execute(query), "rowcount", 0) or 0)
    # One UPDATE of many tokens, outside the flush that audits rows: recorded here.
    audit.record(
        session,
        "identity.tokens.revoked",
        entity_type="users",
        entity_id=user.id,
        tenant_code=user.state_code,
        data={"count": ended},
    )
    return ended


def _officer_inputs(runtime: Runtime, user: User) -> dict[str, str | None]:
    return {
        "username": user.username,
        "name": runtime.cipher.decrypt(user.name_sealed, context="name") if user.name_sealed else None,
        "state": user.state_code,
    }


def change_password(
    session: Session, principal: Principal, *, current: str, new: str, keep_token: str | None, ip: str | None
) -> User:
    """The signed-in officer changes their own password; needs the current one.

    Every other session and bearer token of theirs ends (``keep_token`` is the one in use).
    A wrong current password counts like a failed sign-in from this address.
    """
    require(principal, "identity:profile:update", owner_id=principal.user_id, state_code=principal.state_code)
    runtime = runtime_of(session)
    user = session.get(User, principal.user_id)
    if user is None or user.password_hash is None:
        raise field_error("current_password", "this account signs in without a password")
    pair_key, _user_key = _login_keys(user.username or user.id, ip)
    hit = limits.hit(session, pair_key, window=LOCKOUT)
    if hit.over(runtime.settings.login_max_failures):
        raise TooManyRequests("too many wrong passwords; try again in a few minutes", retry_after=hit.retry_after)
    if not _password_matches(runtime, user, current):
        audit.record(
            session, "identity.password.change_refused", entity_type="users", entity_id=user.id, tenant_code=user.state_code
        )
        raise Invalid(
            "wrong password",
            [{"loc": ["body", "current_password"], "msg": "the current password is wrong", "type": "value_error"}],
            keep_changes=True,
        )
    limits.give_back(session, pair_key)
    if new == current:
        raise field_error("password", "the new password must differ from the current one")
    check_password(new, **_officer_inputs(runtime, user))
    user.password_hash = runtime.hasher.hash(new)
    session.flush()
    _end_other_sessions(session, user, sha256_hex(keep_token) if keep_token else None)
    return user


def reset_password(session: Session, principal: Principal | None, user_id: str, *, new: str) -> User:
    """An administrator sets an officer's password (``principal=None``: the operator's CLI, trusted).

    Needs ``identity:user:manage`` where the officer holds a role; every session and bearer
    token of the officer ends, and this address's count of their failed sign-ins is cleared.
    """
    runtime = runtime_of(session)
    if principal is not None:
        require_any(principal, "identity:user:manage")
        user = get_user(session, principal, user_id)
        if user.id == principal.user_id:
            raise field_error("user", "change your own password with your current one (POST /api/v1/me/password)")
        places = session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).all()
        if not places:
            raise NotFound("no such user within your jurisdiction")
        for ra in places:
            _require_manage(principal, Place(ra.state_code, ra.local_body_code, ra.ward_code, ra.section))
    else:
        found = session.get(User, user_id)
        if found is None:
            raise NotFound("no such user")
        user = found
    if user.kind != "officer":
        raise field_error("user", "only officers have passwords; citizens sign in with a code to their mobile")
    check_password(new, **_officer_inputs(runtime, user))
    user.password_hash = runtime.hasher.hash(new)
    session.flush()
    _end_other_sessions(session, user, None)
    audit.record(session, "identity.password.reset", entity_type="users", entity_id=user.id, tenant_code=user.state_code)
    return user


# --- tokens and principals ----------------------------------------------------


def issue_token(
    session: Session,
    user: User,
    kind: str,
    *,
    label: str | None = None,
    ttl: timedelta | None = None,
    origin: str | None = None,
) -> str:
    """Create a secret for ``user``; only its hash is stored. Returns the secret (shown once).

    ``origin`` (``models.TOKEN_ORIGINS``): a session always comes from a sign-in; give it for the rest.
    Every kind expires: API keys after ``NAGARA_API_KEY_TTL_DAYS``.
    """
    settings = runtime_of(session).settings
    if ttl is None and kind == "session":
        ttl = timedelta(hours=settings.session_ttl_hours)
    elif ttl is None and kind == "bearer":
        ttl = timedelta(hours=settings.token_ttl_hours)
    elif ttl is None and kind == "api_key":
        ttl = timedelta(days=settings.api_key_ttl_days)
    if origin is None and kind == "session":
        origin = "sign_in"
    raw = TOKEN_PREFIX[kind] + random_token(32)
    session.add(
        AuthToken(
            user_id=user.id,
            kind=kind,
            token_hash=sha256_hex(raw),
            label=label,
            expires_at=utcnow() + ttl if ttl else None,
            origin=origin,
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
# the next request (tests/identity/test_authentication_cost.py). It runs on the driver's cursor
# (kit.db.DriverQuery) and the user's row is put in the unit of work as if the ORM had loaded it.
_TOKEN_COLUMNS = (
    AuthToken.kind,
    AuthToken.expires_at,
    AuthToken.revoked_at,
    AuthToken.id,
    AuthToken.origin,
    AuthToken.created_at,
)
_USER_COLUMNS = tuple(User.__table__.columns)
_USER_KEYS = tuple(User.__mapper__.get_property_by_column(c).key for c in _USER_COLUMNS)
_AUTHENTICATE = DriverQuery(
    select(*_TOKEN_COLUMNS, *_USER_COLUMNS, *_GRANT_COLUMNS, RoleAssignment.id, RoleAssignment.created_at)
    .select_from(AuthToken)
    .join(User, User.id == AuthToken.user_id)
    .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
    .outerjoin(Role, _ROLE_JOIN)
    .where(AuthToken.token_hash == bindparam("token_hash"))
)
_GRANTS_AT = len(_TOKEN_COLUMNS) + len(_USER_COLUMNS)


class _GrantRow(NamedTuple):
    """A role assignment's part of an authentication row; all None for a user with no role (outer join)."""

    role_code: Any
    scope: Any
    state_code: Any
    local_body_code: Any
    ward_code: Any
    section: Any
    permissions: Any
    assignment_id: Any
    assigned_at: Any


def _signed_in_user(session: Session, values: tuple[Any, ...]) -> User:
    """The user's row as a persistent object of this unit of work, without asking again."""
    fields = dict(zip(_USER_KEYS, values, strict=True))
    found = session.identity_map.get(identity_key(User, fields["id"]))
    if isinstance(found, User):
        return found
    user = User(**fields)
    make_transient_to_detached(user)  # loaded, not new: no attribute is a change to flush
    session.add(user)
    return user


# The signed-in user's row, kept in the unit of work's memo: the identity map holds
# rows weakly, and with this reference ``session.get(User, principal.user_id)`` (the profile,
# /api/v1/me) finds the row that authentication read instead of asking the database again.
SIGNED_IN_USER = "identity.signed_in_user"
# And their role assignments as ``describe`` shows them, from the same rows.
SIGNED_IN_ROLES = "identity.signed_in_roles"
# And the credential the request came with (``SignedInWith``): sign-out revokes it, minting checks it.
SIGNED_IN_WITH = "identity.signed_in_with"


@dataclass(frozen=True)
class SignedInWith:
    token_id: str
    kind: str
    origin: str | None
    created_at: datetime


def authenticate(session: Session, raw: str, *, kinds: tuple[str, ...]) -> Principal:
    """The principal behind a session cookie, bearer token or API key; 401 when it is not valid."""
    rows = _AUTHENTICATE.rows(session, {"token_hash": sha256_hex(raw)})
    if not rows:
        raise NotAuthenticated("the credentials are not valid; sign in again")
    token_kind, expires_at, revoked_at, token_id, token_origin, token_created_at = rows[0][: len(_TOKEN_COLUMNS)]
    if token_kind not in kinds or revoked_at is not None:
        raise NotAuthenticated("the credentials are not valid; sign in again")
    if expires_at is not None and expires_at <= utcnow():
        raise NotAuthenticated("the session has expired; sign in again")
    user = _signed_in_user(session, rows[0][len(_TOKEN_COLUMNS) : _GRANTS_AT])
    if not user.is_active:
        raise NotAuthenticated("this account is disabled")
    grants = [_GrantRow(*row[_GRANTS_AT:]) for row in rows]
    kept = memo(session)
    kept[SIGNED_IN_USER] = user
    kept[SIGNED_IN_WITH] = SignedInWith(token_id, token_kind, token_origin, token_created_at)
    kept[SIGNED_IN_ROLES] = [
        _role_out(g.assignment_id, g.role_code, g.state_code, g.local_body_code, g.ward_code, g.section)
        for g in sorted((g for g in grants if g.assignment_id is not None), key=lambda g: g.assigned_at)
    ]
    return Principal(user_id=user.id, kind=user.kind, state_code=user.state_code, grants=_grants(grants), token_kind=token_kind)


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


def _role_count(session: Session, user_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(RoleAssignment).where(RoleAssignment.user_id == user_id)) or 0)


def revoke_role(session: Session, principal: Principal, user_id: str, assignment_id: str) -> None:
    ra = session.get(RoleAssignment, assignment_id)
    if ra is None or ra.user_id != user_id:
        raise NotFound("no such role assignment")
    _require_manage(principal, Place(ra.state_code, ra.local_body_code, ra.ward_code, ra.section))
    if user_id == principal.user_id and _role_count(session, user_id) <= 1:
        raise Conflict(
            "you cannot revoke your own last role: you would lock yourself out, and no one would be left "
            "to undo it from your account; ask another administrator to revoke it"
        )
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
    _state(session, state_code)
    check_password(password, username=username, name=name, state=state_code)
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
    return user, issue_token(session, user, "api_key", label=f"partner {username}", origin="partner")


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
