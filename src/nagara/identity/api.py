"""Identity routes: sign-in, sessions, tokens, profile, officers and roles."""

from __future__ import annotations

from typing import Annotated

import pyotp
from fastapi import APIRouter, Query, Request, Response, status

from nagara.identity import service
from nagara.identity.deps import CurrentPrincipal, DbSession, csrf_token_for, get_runtime, set_session_cookie
from nagara.identity.models import User
from nagara.identity.schemas import (
    OfficerCreate,
    OfficerCreated,
    OfficerLogin,
    OtpRequest,
    OtpSent,
    OtpVerify,
    ProfileUpdate,
    RoleGrant,
    RoleOut,
    SignedIn,
    TokenCreate,
    TokenOut,
    UserOut,
)
from nagara.identity.views import sign_in_sms
from nagara.kit.api import API_PREFIX
from nagara.kit.errors import NotFound

router = APIRouter(prefix=API_PREFIX, tags=["identity"])


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _signed_in(request: Request, response: Response, session: DbSession, user: User, as_session: bool) -> SignedIn:
    runtime = get_runtime(request)
    if as_session:
        raw = service.issue_token(session, user, "session")
        set_session_cookie(runtime, response, raw)
        return SignedIn(token=raw, token_type="session", csrf_token=csrf_token_for(runtime, raw), user_id=user.id)
    return SignedIn(token=service.issue_token(session, user, "bearer", label="sign-in"), user_id=user.id)


@router.post("/auth/otp", status_code=status.HTTP_201_CREATED, response_model=OtpSent)
def request_code(body: OtpRequest, request: Request, session: DbSession) -> OtpSent:
    """Send a one-time sign-in code by SMS to a citizen's mobile number."""
    issued = service.request_otp(
        session, state_code=body.state, mobile=body.mobile, ip=_client_ip(request), message=sign_in_sms()
    )
    return OtpSent(challenge_id=issued.challenge_id, expires_in=issued.expires_in)


@router.post("/auth/otp/verify", response_model=SignedIn)
def verify_code(body: OtpVerify, request: Request, response: Response, session: DbSession) -> SignedIn:
    """Exchange a correct code for a token (or a web session); registers the citizen on first sign-in."""
    user = service.verify_otp(session, state_code=body.state, challenge_id=body.challenge_id, mobile=body.mobile, code=body.code)
    return _signed_in(request, response, session, user, body.session)


@router.post("/auth/officer", response_model=SignedIn)
def officer_sign_in(body: OfficerLogin, request: Request, response: Response, session: DbSession) -> SignedIn:
    """Officers sign in with username, password and an authenticator (TOTP) code."""
    user = service.officer_login(session, username=body.username, password=body.password, totp_code=body.totp)
    return _signed_in(request, response, session, user, body.session)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, session: DbSession, principal: CurrentPrincipal) -> None:
    """End this session or revoke this bearer token."""
    runtime = get_runtime(request)
    auth = request.headers.get("authorization", "")
    raw = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(runtime.settings.session_cookie, "")
    service.revoke_token(session, raw)
    response.delete_cookie(runtime.settings.session_cookie)


def _user_out(session: DbSession, user: User) -> UserOut:
    return UserOut.model_validate(service.describe(session, user))


@router.get("/me", response_model=UserOut)
def me(session: DbSession, principal: CurrentPrincipal) -> UserOut:
    return _user_out(session, service.get_user(session, principal, principal.user_id))


@router.patch("/me", response_model=UserOut)
def update_me(body: ProfileUpdate, session: DbSession, principal: CurrentPrincipal) -> UserOut:
    return _user_out(session, service.update_profile(session, principal, name=body.name, language=body.language))


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
def create_token(body: TokenCreate, session: DbSession, principal: CurrentPrincipal) -> TokenOut:
    """A bearer token for scripts acting as oneself; shown once."""
    user = service.get_user(session, principal, principal.user_id)
    return TokenOut(token=service.issue_token(session, user, "bearer", label=body.label))


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
