"""Identity routes: sign-in, sessions, tokens, profile, officers and roles."""

from __future__ import annotations

from typing import Annotated

import pyotp
from fastapi import APIRouter, Query, Request, Response, status

from nagara.identity import credentials, service
from nagara.identity.deps import CurrentPrincipal, DbSession, csrf_token_for, get_runtime, set_session_cookie
from nagara.identity.models import AuthToken, User
from nagara.identity.schemas import (
    CredentialOut,
    OfficerCreate,
    OfficerCreated,
    OfficerLogin,
    OtpRequest,
    OtpSent,
    OtpVerify,
    PasswordChange,
    PasswordReset,
    ProfileUpdate,
    RoleGrant,
    RoleOut,
    SignedIn,
    TokenCreate,
    TokenOut,
    UserOut,
)
from nagara.identity.views import sign_in_sms
from nagara.kit.api import API_PREFIX, json_response
from nagara.kit.db import memo
from nagara.kit.errors import NotFound

router = APIRouter(prefix=API_PREFIX, tags=["identity"])


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _credential(request: Request) -> str | None:
    """The secret this request is made with: the bearer token, else the session cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(get_runtime(request).settings.session_cookie)


def _signed_in(request: Request, session: DbSession, user: User, as_session: bool) -> Response:
    """The token (and the session cookie), as a finished response: the unit of work commits as soon
    as the endpoint returns (kit.api.json_response), so a sign-in that held a row lock (the one-time
    code's challenge) never waits for a pool thread that requests queued on that lock hold."""
    runtime = get_runtime(request)
    if as_session:
        raw = service.issue_token(session, user, "session")
        response = json_response(
            SignedIn(token=raw, token_type="session", csrf_token=csrf_token_for(runtime, raw), user_id=user.id)
        )
        set_session_cookie(runtime, response, raw)
        return response
    token = service.issue_token(session, user, "bearer", label="sign-in", origin="sign_in")
    return json_response(SignedIn(token=token, user_id=user.id))


@router.post("/auth/otp", status_code=status.HTTP_201_CREATED, response_model=OtpSent)
def request_code(body: OtpRequest, request: Request, session: DbSession) -> Response:
    """Send a one-time sign-in code by SMS to a citizen's mobile number."""
    issued = service.request_otp(
        session, state_code=body.state, mobile=body.mobile, ip=_client_ip(request), message=sign_in_sms()
    )
    return json_response(OtpSent(challenge_id=issued.challenge_id, expires_in=issued.expires_in), status.HTTP_201_CREATED)


@router.post("/auth/otp/verify", response_model=SignedIn)
def verify_code(body: OtpVerify, request: Request, session: DbSession) -> Response:
    """Exchange a correct code for a token (or a web session); registers the citizen on first sign-in."""
    user = service.verify_otp(session, state_code=body.state, challenge_id=body.challenge_id, mobile=body.mobile, code=body.code)
    return _signed_in(request, session, user, body.session)


@router.post("/auth/officer", response_model=SignedIn)
def officer_sign_in(body: OfficerLogin, request: Request, session: DbSession) -> Response:
    """Officers sign in with username, password and an authenticator (TOTP) code."""
    user = service.officer_login(
        session, username=body.username, password=body.password, totp_code=body.totp, ip=_client_ip(request)
    )
    return _signed_in(request, session, user, body.session)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, session: DbSession, principal: CurrentPrincipal) -> None:
    """End this session or revoke this bearer token (the credential the request came with).

    An API key is not signed out: the answer is 400, and the key is revoked with
    ``DELETE /api/v1/me/tokens/{id}``.
    """
    credentials.sign_out(session)
    response.delete_cookie(get_runtime(request).settings.session_cookie)


def _user_out(session: DbSession, user: User) -> UserOut:
    return UserOut.model_validate(service.describe(session, user))


@router.get("/me", response_model=UserOut)
async def me(session: DbSession, principal: CurrentPrincipal) -> Response:
    return json_response(_user_out(session, service.get_user(session, principal, principal.user_id)))


@router.patch("/me", response_model=UserOut)
def update_me(body: ProfileUpdate, session: DbSession, principal: CurrentPrincipal) -> UserOut:
    return _user_out(session, service.update_profile(session, principal, name=body.name, language=body.language))


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def create_token(body: TokenCreate, session: DbSession, principal: CurrentPrincipal) -> TokenOut:
    """A bearer token for scripts acting as oneself; shown once.

    Only with a session or token from a sign-in (one-time code or password) made at most
    NAGARA_TOKEN_MINT_WITHIN_MINUTES ago: not with an API key, nor with a created token.
    """
    return TokenOut(token=credentials.mint(session, principal, label=body.label))


def _credentials_out(session: DbSession, tokens: list[AuthToken]) -> list[CredentialOut]:
    current = memo(session).get(service.SIGNED_IN_WITH)
    current_id = current.token_id if isinstance(current, service.SignedInWith) else None
    return [CredentialOut.model_validate(t).model_copy(update={"current": t.id == current_id}) for t in tokens]


@router.get("/me/tokens", response_model=list[CredentialOut])
def my_tokens(session: DbSession, principal: CurrentPrincipal) -> list[CredentialOut]:
    """One's sessions, bearer tokens and API keys that still work, with when each expires."""
    me = service.get_user(session, principal, principal.user_id)
    return _credentials_out(session, credentials.listing(session, principal, me))


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(token_id: str, session: DbSession, principal: CurrentPrincipal) -> None:
    """Revoke one of one's own sessions, tokens or API keys; it stops working at the next request."""
    me = session.get(User, principal.user_id)
    if me is None:
        raise NotFound("no such user")
    credentials.revoke(session, me, token_id)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Change one's own password (officers); needs the current one. Every other session and token of
    one's own ends; the one making this request stays signed in."""
    service.change_password(
        session,
        principal,
        current=body.current_password,
        new=body.password,
        keep_token=_credential(request),
        ip=_client_ip(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=list[UserOut])
def list_users(
    session: DbSession,
    principal: CurrentPrincipal,
    local_body: Annotated[str | None, Query(description="Only officers of this local body, such as 'kl.tvm-corp'")] = None,
) -> list[UserOut]:
    """Officers within the caller's jurisdiction."""
    return [_user_out(session, u) for u in service.list_users(session, principal, local_body_code=local_body)]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=OfficerCreated)
def create_officer(body: OfficerCreate, session: DbSession, principal: CurrentPrincipal) -> OfficerCreated:
    created = service.create_officer(
        session,
        principal,
        state_code=body.state,
        username=body.username,
        name=body.name,
        password=body.password,
        role=body.role,
        place=service.Place(body.state, body.local_body, body.ward, body.section),
    )
    uri = pyotp.TOTP(created.totp_secret).provisioning_uri(name=created.user.username or "", issuer_name="Nagara")
    return OfficerCreated(user=_user_out(session, created.user), totp_secret=created.totp_secret, totp_uri=uri)


@router.post("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def reset_password(user_id: str, body: PasswordReset, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Set an officer's password (needs identity:user:manage wherever they hold a role); all their
    sessions and tokens end."""
    service.reset_password(session, principal, user_id, new=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: str, session: DbSession, principal: CurrentPrincipal) -> UserOut:
    return _user_out(session, service.get_user(session, principal, user_id))


@router.post("/users/{user_id}/roles", status_code=status.HTTP_201_CREATED, response_model=RoleOut)
def grant_role(user_id: str, body: RoleGrant, session: DbSession, principal: CurrentPrincipal) -> RoleOut:
    user = service.get_user(session, principal, user_id)
    if user.state_code is None:
        raise NotFound("no such user")
    ra = service.grant_role(
        session, principal, user, body.role, service.Place(user.state_code, body.local_body, body.ward, body.section)
    )
    return RoleOut(
        id=ra.id, role=ra.role_code, state=ra.state_code, local_body=ra.local_body_code, ward=ra.ward_code, section=ra.section
    )


@router.delete("/users/{user_id}/roles/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_role(user_id: str, assignment_id: str, session: DbSession, principal: CurrentPrincipal) -> None:
    service.get_user(session, principal, user_id)
    service.revoke_role(session, principal, user_id, assignment_id)


@router.get("/users/{user_id}/tokens", response_model=list[CredentialOut])
def user_tokens(user_id: str, session: DbSession, principal: CurrentPrincipal) -> list[CredentialOut]:
    """A user's credentials that still work, for an administrator who manages every role they hold."""
    user = credentials.managed_user(session, principal, user_id)
    return _credentials_out(session, credentials.listing(session, principal, user))


@router.delete("/users/{user_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_user_token(user_id: str, token_id: str, session: DbSession, principal: CurrentPrincipal) -> None:
    """Revoke a user's session, token or API key (a partner system's key, say)."""
    credentials.revoke(session, credentials.managed_user(session, principal, user_id), token_id)


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: str, session: DbSession, principal: CurrentPrincipal) -> UserOut:
    """Disable an account: every credential it holds is revoked and it cannot sign in until enabled."""
    user = credentials.managed_user(session, principal, user_id)
    return _user_out(session, credentials.set_active(session, principal, user, enabled=False))


@router.post("/users/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: str, session: DbSession, principal: CurrentPrincipal) -> UserOut:
    """Enable a disabled account; its old credentials stay revoked, so it signs in again."""
    user = credentials.managed_user(session, principal, user_id)
    return _user_out(session, credentials.set_active(session, principal, user, enabled=True))
