from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OtpRequest(Strict):
    state: str = Field(description="State code of the portal, such as 'kl'", examples=["kl"])
    mobile: str = Field(description="10-digit Indian mobile number, with or without +91", examples=["9876543210"])


class OtpSent(BaseModel):
    challenge_id: str
    expires_in: int = Field(description="Seconds until the code expires")


class OtpVerify(Strict):
    state: str
    challenge_id: str
    mobile: str
    code: str = Field(min_length=4, max_length=8)
    session: bool = Field(default=False, description="Set a session cookie (for the web) instead of returning only a token")


class OfficerLogin(Strict):
    username: str
    password: str
    totp: str = Field(description="The 6-digit code from the authenticator app")
    session: bool = False


class SignedIn(BaseModel):
    token: str = Field(description="Bearer token for the API (or the session secret, also set as a cookie)")
    token_type: str = "bearer"
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token on unsafe requests made with the session cookie"
    )
    user_id: str


class RoleOut(BaseModel):
    id: str
    role: str
    state: str
    local_body: str | None
    ward: str | None
    section: str | None


class UserOut(BaseModel):
    id: str
    kind: str
    state: str | None
    username: str | None
    name: str | None
    mobile: str | None
    language: str
    is_active: bool
    roles: list[RoleOut]


class ProfileUpdate(Strict):
    name: str | None = Field(default=None, max_length=120)
    language: str | None = None


class RoleGrant(Strict):
    role: str
    local_body: str | None = None
    ward: str | None = None
    section: str | None = None


class PasswordChange(Strict):
    current_password: str = Field(description="The password in use now")
    password: str = Field(
        description="The new password: at least 12 characters, not a common one, not built from the username, name or state"
    )


class PasswordReset(Strict):
    password: str = Field(
        description="The officer's new password: at least 12 characters, not a common one, not built from their username, "
        "name or state"
    )


class OfficerCreate(Strict):
    state: str
    username: str
    name: str = Field(min_length=1, max_length=120)
    password: str = Field(description="At least 12 characters, not a common one, not built from the username, name or state")
    role: str
    local_body: str | None = None
    ward: str | None = None
    section: str | None = None


class OfficerCreated(BaseModel):
    user: UserOut
    totp_secret: str = Field(description="Enrol this in the officer's authenticator app; it is shown once")
    totp_uri: str


class TokenCreate(Strict):
    label: str = Field(min_length=1, max_length=120)


class TokenOut(BaseModel):
    token: str


class CredentialOut(BaseModel):
    """A session, bearer token or API key that still works; never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(description="session, bearer or api_key")
    label: str | None
    origin: str | None = Field(description="sign_in, minted, cli or partner (None: issued before origins were kept)")
    created_at: datetime
    expires_at: datetime | None = Field(description="It stops working then; API keys expire after NAGARA_API_KEY_TTL_DAYS")
    current: bool = Field(default=False, description="The credential this request came with")
