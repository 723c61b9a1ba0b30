"""The README's table of settings, made from :class:`nagara.kit.settings.Settings`.

``python -m nagara.kit.settings_table`` prints it; ``tests/kit/test_settings_table.py`` fails when
the README's copy differs, so a new setting, or a changed default, is documented when it lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from nagara.kit.settings import DEV_PII_KEY, DEV_SECRET, Settings

BEGIN = "<!-- settings table: python -m nagara.kit.settings_table -->"
END = "<!-- end of settings table -->"

MEANINGS: dict[str, str] = {
    "env": "`development`, `test` or `production`; production refuses to start with development secrets and says which",
    "host": "the address `nagara serve` listens on",
    "port": "the port `nagara serve` and `nagara demo` listen on",
    "base_url": "the public address of the node (links in SMS and certificates, the did:web issuer); default `http://HOST:PORT`",
    "var_dir": "where the SQLite database, uploaded documents (local backend) and development keys are kept",
    "packs_dir": "the folder of state packs (`<state>/pack.yaml`) that `nagara demo` and `nagara pack load` read",
    "database_url": "`sqlite:///...` or `postgresql://...`; default `sqlite:///VAR_DIR/nagara.db`",
    "database_echo": "log every SQL statement",
    "database_pool_size": "database connections per process",
    "threads": "threads per process that run request handlers (see Serving)",
    "workers": "processes of `nagara serve`; 0 chooses: one on SQLite, one per core on PostgreSQL",
    "secret_key": "signs sessions and tokens, and derives the ledger salts; 32+ characters in production",
    "pii_key": "64 hexadecimal characters: the AES-256 key that seals personal data",
    "pii_key_id": "the id stored with each sealed value, so keys can be rotated",
    "session_cookie": "the name of the web session cookie",
    "session_ttl_hours": "a web session ends after this many hours",
    "token_ttl_hours": "a bearer token expires after this many hours",
    "api_key_ttl_days": "a partner's API key expires after this many days",
    "token_mint_within_minutes": "`POST /api/v1/me/tokens` mints only this soon after a sign-in",
    "cookie_secure": "send cookies over HTTPS only (must be true in production)",
    "otp_length": "digits of a one-time code",
    "otp_ttl_seconds": "a one-time code expires after this many seconds",
    "otp_max_attempts": "wrong tries of one code before it is spent",
    "otp_per_number_per_hour": "codes sent to one mobile number per hour",
    "otp_per_address_per_hour": "codes requested from one address per hour",
    "login_max_failures": "failed sign-ins per username from one address in 15 minutes",
    "status_lookups_per_address_per_hour": "wrong number-and-code pairs on the public status page per address per hour",
    "login_max_failures_per_user": "failed sign-ins per username from all addresses in 15 minutes",
    "trusted_proxies": "reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed",
    "request_max_bytes": "the largest request body (JSON, forms) accepted; larger ones get 413 before they are read",
    "upload_max_bytes": "the largest body on the routes that take a document or PDF; larger ones get 413",
    "metrics_token": "the bearer token `/metrics` asks for; production refuses to start without one",
    "files_backend": "where uploaded documents go: `local` (under VAR_DIR/documents) or `s3`",
    "s3_bucket": "the bucket, required with the s3 backend",
    "s3_endpoint_url": "empty for AWS; for MinIO, such as `http://127.0.0.1:9000`",
    "s3_region": "the S3 region",
    "s3_access_key": "the S3 access key",
    "s3_secret_key": "the S3 secret key",
    "sms_backend": "`console` (codes printed in the server's log; refused in production) or `http`",
    "sms_http_url": "the SMS gateway's URL, for the http backend",
    "sms_http_token": "the SMS gateway's token, for the http backend",
    "sms_sender_id": "the sender id the SMS gateway shows",
    "sms_receipt_secret": (
        "the HMAC key the SMS gateway signs delivery receipts with (`X-Signature`); default derived from the secret key"
    ),
    "mail_backend": "`console` (e-mails printed in the server's log) or `smtp`",
    "smtp_host": "the SMTP server, for the smtp backend",
    "smtp_port": "the SMTP server's port (587 for submission with STARTTLS)",
    "smtp_username": "the SMTP login; empty: no authentication",
    "smtp_password": "the SMTP password",
    "smtp_starttls": "upgrade the SMTP connection with STARTTLS before authenticating and sending",
    "mail_from": "the From address of notification e-mails",
    "whatsapp_backend": "`off` (no WhatsApp messages) or `cloud` (WhatsApp Business Cloud API)",
    "whatsapp_api_url": "the Cloud API's base URL, with its version",
    "whatsapp_phone_number_id": "the business phone number's id in the Cloud API",
    "whatsapp_token": "the Cloud API's access token",
    "worker_embedded": "run the job worker inside `nagara serve` (else run `nagara worker`)",
    "worker_poll_seconds": "how often an idle worker looks for jobs",
    "worker_max_attempts": "tries of a failing job before it is left failed",
    "payments_gateway": "`local` (a development gateway, refused in production) or `razorpay`",
    "payments_gateway_secret": "the local gateway's HMAC key; default derived from the secret key",
    "payments_callback_tolerance_seconds": "a signed gateway callback older than this is a replay",
    "payments_order_ttl_seconds": "an unpaid online payment expires after this many seconds",
    "payments_reconcile_after_seconds": "ask the gateway about a payment silent this long",
    "payments_razorpay_key_id": "Razorpay key id",
    "payments_razorpay_key_secret": "Razorpay key secret",
    "payments_razorpay_webhook_secret": "Razorpay webhook secret",
    "payments_razorpay_base_url": "Razorpay's API address",
    "log_level": "`DEBUG`, `INFO`, `WARNING` or `ERROR`",
    "log_json": "log one JSON object a line (else plain text)",
    "ledger_origin": "this node's log; default the `ledger_origin` the loaded packs name (see The public ledger)",
    "ledger_key": "the log's signing key (`nagara ledger keygen ORIGIN`); development generates one under VAR_DIR",
    "ledger_batch_size": "entries integrated in one step",
    "ledger_run_seconds": "integrate at most this long, then sign a checkpoint",
    "ledger_witness_key": "this node's cosigning key as a witness of other logs (`nagara ledger keygen NAME --witness`)",
    "ledger_witnessed_logs": "JSON list of the log vkeys this node cosigns",
    "ledger_witnesses": "JSON object: witness submission URL to its vkey",
    "ledger_witness_quorum": "cosignatures a checkpoint needs before it is served",
    "credential_key": "the certificates' Multikey Ed25519 signing key (`nagara certificates keygen`); development generates one",
    "credential_did": "the issuer's DID; default the did:web of BASE_URL's host",
    "digilocker_issuer_id": "this node's issuer id at DigiLocker, the first part of its URIs; empty: no DigiLocker issuing",
    "digilocker_api_key": "the key of `x-digilocker-hmac` (Base64 HMAC-SHA256 of the body), both ways",
    "digilocker_member": "the exchange member DigiLocker is registered as (with the service `digilocker`)",
    "digilocker_doc_types": "JSON object: DigiLocker DocType to the certificate's output type",
    "digilocker_push_url": "where the URI of each newly issued certificate is pushed (through the outbox); empty: none",
    "exchange_clock_skew_seconds": (
        "a signed exchange request's `created` and `Date` must be within this many seconds of the node's clock"
    ),
}


def _default(name: str, value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
        if value in (DEV_SECRET, DEV_PII_KEY):
            return "a development value"
    if isinstance(value, Path):
        value = value.as_posix()
    if isinstance(value, bool):
        value = str(value).lower()
    if value in ("", [], {}):
        return "(none)"
    return f"`{value}`"


def markdown() -> str:
    """The table, between the markers the README keeps it in."""
    rows = [BEGIN, "", "| Setting | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        rows.append(f"| `NAGARA_{name.upper()}` | {_default(name, default)} | {MEANINGS[name]} |")
    return "\n".join([*rows, "", END])


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown() + "\n")
