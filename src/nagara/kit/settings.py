"""The one typed settings object, read from ``NAGARA_*`` environment variables.

It is built by the app factory (or the CLI), never at import time, so tests and
tools can build their own. A misspelt ``NAGARA_`` variable is an error.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-change-me"
DEV_PII_KEY = "0" * 64  # hex; refused in production


class InsecureProductionSettings(RuntimeError):
    """Production was asked for with development secrets; the message names each."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NAGARA_",
        extra="forbid",
        case_sensitive=False,
    )

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    base_url: str = ""
    var_dir: Path = Path("var")
    packs_dir: Path = Path("packs")
    database_url: str = ""
    database_echo: bool = False
    database_pool_size: int = Field(default=10, ge=1)
    # Threads that run request handlers. Handlers are CPU-bound Python under the GIL, so a
    # few threads per process (and more processes) serve more than many threads do
    # (measured with bench/read_endpoint.py --threads and bench/applications.py --layouts).
    threads: int = Field(default=4, ge=1, le=64)
    # Processes of `nagara serve` (uvicorn's --workers). 0 chooses: one on SQLite (one writer
    # at a time, and the embedded worker lives in that process), else one per two cores, as
    # PostgreSQL usually shares the machine (bench/applications.py --layouts; README "Serving").
    workers: int = Field(default=0, ge=0, le=64)

    secret_key: SecretStr = SecretStr(DEV_SECRET)
    pii_key: SecretStr = SecretStr(DEV_PII_KEY)
    pii_key_id: str = "k1"
    session_cookie: str = "nagara_session"
    session_ttl_hours: int = Field(default=12, ge=1)
    token_ttl_hours: int = Field(default=24 * 30, ge=1)
    api_key_ttl_days: int = Field(default=90, ge=1, le=3650)  # a partner's API key expires; issue a new one before
    token_mint_within_minutes: int = Field(default=15, ge=1, le=24 * 60)  # POST /me/tokens only this soon after sign-in
    cookie_secure: bool = True

    otp_length: int = Field(default=6, ge=4, le=8)
    otp_ttl_seconds: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    otp_per_number_per_hour: int = Field(default=5, ge=1)
    otp_per_address_per_hour: int = Field(default=20, ge=1)
    # Sign-in tries per username from one address in 15 minutes (the person at their usual place is
    # not locked out by someone else's guesses), and per username from all addresses together
    # (looser, against guessing spread over many addresses).
    login_max_failures: int = Field(default=5, ge=1)
    # The public status page (applications/acknowledgement.py): wrong number-and-code pairs per address.
    status_lookups_per_address_per_hour: int = Field(default=20, ge=1)
    login_max_failures_per_user: int = Field(default=20, ge=1)
    # Reverse proxies whose X-Forwarded-For (and X-Forwarded-Proto) are believed: addresses or
    # networks, comma-separated ("10.0.0.5, 192.168.1.0/24"). Empty: the peer's own address is the
    # client's, whatever headers it sends.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    files_backend: Literal["local", "s3"] = "local"  # uploaded documents: under var_dir/documents, or S3
    s3_bucket: str = ""
    s3_endpoint_url: str = ""  # empty for AWS; e.g. http://127.0.0.1:9000 for MinIO
    s3_region: str = "ap-south-1"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")

    sms_backend: Literal["console", "http"] = "console"
    sms_http_url: str = ""
    sms_http_token: SecretStr = SecretStr("")
    sms_sender_id: str = "NAGARA"
    sms_receipt_secret: SecretStr = SecretStr("")  # HMAC key of delivery receipts; default derived from the secret key

    # Notifications (src/nagara/notifications): e-mail over SMTP, WhatsApp Business Cloud API.
    mail_backend: Literal["console", "smtp"] = "console"
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    mail_from: str = "nagara@localhost"
    whatsapp_backend: Literal["off", "cloud"] = "off"
    whatsapp_api_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_phone_number_id: str = ""
    whatsapp_token: SecretStr = SecretStr("")

    worker_embedded: bool = True
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1)

    # Payments (src/nagara/payments): the gateway citizens pay through; "local" is refused in production.
    payments_gateway: Literal["local", "razorpay"] = "local"
    payments_gateway_secret: SecretStr = SecretStr("")  # the local gateway's HMAC key; default derived from the secret key
    payments_callback_tolerance_seconds: int = Field(default=300, ge=5)  # older signed callbacks are replays
    payments_order_ttl_seconds: int = Field(default=900, ge=60)  # an unpaid online payment expires after this
    payments_reconcile_after_seconds: int = Field(default=120, ge=0)  # ask the gateway about payments silent this long
    payments_razorpay_key_id: str = ""
    payments_razorpay_key_secret: SecretStr = SecretStr("")
    payments_razorpay_webhook_secret: SecretStr = SecretStr("")
    payments_razorpay_base_url: str = "https://api.razorpay.com"

    # Request bodies (kit/edge.py): refused with 413 beyond these, before they are read.
    request_max_bytes: int = Field(default=1024 * 1024, ge=1024)  # JSON and forms
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)  # routes that take a document or PDF
    metrics_token: SecretStr = SecretStr("")  # bearer token /metrics asks for; required in production

    log_level: str = "INFO"
    log_json: bool = True

    # The public ledger (src/nagara/ledger): one log per node; see README "The public ledger".
    ledger_origin: str = ""  # default: the ledger_origin of the first loaded state by code
    ledger_key: SecretStr = SecretStr("")  # PRIVATE+KEY+<origin>+...; development generates one under var_dir
    ledger_batch_size: int = Field(default=10_000, ge=1, le=30_000)
    ledger_run_seconds: float = Field(default=0.5, gt=0)  # integrate at most this long, then sign a checkpoint
    ledger_witness_key: SecretStr = SecretStr("")  # this node's cosigning key, as a witness of other logs
    ledger_witnessed_logs: list[str] = Field(default_factory=list)  # vkeys of the logs this node witnesses
    ledger_witnesses: dict[str, str] = Field(default_factory=dict)  # witness submission URL -> witness vkey
    ledger_witness_quorum: int = Field(default=0, ge=0)  # cosignatures a checkpoint needs before it is served

    # Certificates (src/nagara/certificates): the node's credential-signing key and its did:web DID.
    credential_key: SecretStr = SecretStr("")  # Multikey Ed25519 secret key (z3u2...); development generates one
    credential_did: str = ""  # default: did:web of base_url's host (and port)

    # Exchange (src/nagara/exchange): a signed request's created and Date must be within ± this of our clock.
    exchange_clock_skew_seconds: int = Field(default=300, ge=5, le=3600)
    # DigiLocker issuer API (exchange/digilocker.py): our issuer id, the HMAC key, DigiLocker's member, doc types, push.
    digilocker_issuer_id: str = ""
    digilocker_api_key: SecretStr = SecretStr("")
    digilocker_member: str = "IN/GOV/DIGILOCKER/issuer-api"
    digilocker_doc_types: dict[str, str] = Field(
        default_factory=lambda: {"BRCER": "birth-certificate", "DTCER": "death-certificate", "MRCER": "marriage-certificate"}
    )
    digilocker_push_url: str = ""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [part for part in text.replace(",", " ").split() if part]
        if isinstance(value, list | tuple):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry).strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"NAGARA_TRUSTED_PROXIES: {entry!r} is not an address or network (such as 10.0.0.5 or 10.0.0.0/8)"
                    ) from None
            return [str(entry).strip() for entry in value]
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @model_validator(mode="after")
    def _defaults_from_var_dir(self) -> Settings:
        if self.files_backend == "s3" and not self.s3_bucket:
            raise ValueError("NAGARA_S3_BUCKET is required when NAGARA_FILES_BACKEND is s3")
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'nagara.db').as_posix()}"
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def serve_workers(self) -> int:
        """How many processes ``nagara serve`` runs: ``workers``, or else the measured default."""
        if self.workers:
            return self.workers
        return 1 if self.is_sqlite else max(1, os.cpu_count() or 1)

    def insecure_production_problems(self) -> list[str]:
        """Each reason this configuration must not run in production."""
        problems: list[str] = []
        if self.secret_key.get_secret_value() in ("", DEV_SECRET):
            problems.append("NAGARA_SECRET_KEY is missing or the development default")
        elif len(self.secret_key.get_secret_value()) < 32:
            problems.append("NAGARA_SECRET_KEY is shorter than 32 characters")
        pii = self.pii_key.get_secret_value()
        if pii in ("", DEV_PII_KEY):
            problems.append("NAGARA_PII_KEY is missing or the development default")
        elif len(pii) != 64 or any(c not in "0123456789abcdefABCDEF" for c in pii):
            problems.append("NAGARA_PII_KEY must be 64 hexadecimal characters (a 256-bit key)")
        if self.sms_backend == "console":
            problems.append("NAGARA_SMS_BACKEND is 'console', which prints one-time codes; set it to 'http'")
        elif not self.sms_http_url or not self.sms_http_token.get_secret_value():
            problems.append("NAGARA_SMS_HTTP_URL and NAGARA_SMS_HTTP_TOKEN are required for the http SMS backend")
        if self.payments_gateway == "local":
            problems.append("NAGARA_PAYMENTS_GATEWAY is 'local', a development gateway; configure a provider")
        else:
            missing = [
                name
                for name, value in (
                    ("NAGARA_PAYMENTS_RAZORPAY_KEY_ID", self.payments_razorpay_key_id),
                    ("NAGARA_PAYMENTS_RAZORPAY_KEY_SECRET", self.payments_razorpay_key_secret.get_secret_value()),
                    ("NAGARA_PAYMENTS_RAZORPAY_WEBHOOK_SECRET", self.payments_razorpay_webhook_secret.get_secret_value()),
                )
                if not value
            ]
            if missing:
                needs = "the razorpay gateway needs its key id, key secret and webhook secret"
                problems.append(f"{', '.join(missing)} missing: {needs}")
        if not self.metrics_token.get_secret_value():
            problems.append("NAGARA_METRICS_TOKEN is missing: /metrics is served only to a bearer of this token in production")
        if not self.cookie_secure:
            problems.append("NAGARA_COOKIE_SECURE must be true")
        if not self.ledger_key.get_secret_value():
            problems.append("NAGARA_LEDGER_KEY is missing: the ledger's signing key (nagara ledger keygen ORIGIN)")
        if not self.credential_key.get_secret_value():
            problems.append("NAGARA_CREDENTIAL_KEY is missing: the certificates' signing key (nagara certificates keygen)")
        if self.ledger_witnessed_logs and not self.ledger_witness_key.get_secret_value():
            problems.append("NAGARA_LEDGER_WITNESS_KEY is missing but NAGARA_LEDGER_WITNESSED_LOGS is set")
        return problems

    def check_production(self) -> None:
        if self.env != "production":
            return
        problems = self.insecure_production_problems()
        if problems:
            raise InsecureProductionSettings("refusing to start in production: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus explicit overrides) and refuse unsafe production."""
    unknown = unknown_env_keys()
    if unknown:
        known = ", ".join(f"NAGARA_{name.upper()}" for name in sorted(Settings.model_fields))
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known settings are: {known}")
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.check_production()
    return settings


def unknown_env_keys() -> list[str]:
    """``NAGARA_*`` variables that match no setting (pydantic-settings ignores them silently)."""
    known = {f"NAGARA_{name.upper()}" for name in Settings.model_fields}
    allowed_extra = {"NAGARA_SHARED_DIR"}  # where the tests find shared/ test vectors
    return sorted(k for k in os.environ if k.startswith("NAGARA_") and k not in known | allowed_extra)
