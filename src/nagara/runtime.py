"""The process's assembled parts: settings, database, PII cipher, SMS, e-mail and WhatsApp senders.

Built once by the app factory, the CLI or a test, never at import time. Each
session carries it in ``session.info`` so services and job handlers reach the
integrations without globals.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field

import anyio
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from nagara.kit.crypto import PiiCipher, derive_key
from nagara.kit.db import Database, engine_from_settings
from nagara.kit.files import FileStore, LocalFileStore, S3FileStore
from nagara.kit.mail import ConsoleMail, MailSender, SmtpMail
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms, HttpSms, SmsSender
from nagara.kit.whatsapp import CloudWhatsApp, WhatsAppSender


@dataclass
class Runtime:
    settings: Settings
    db: Database
    cipher: PiiCipher
    sms: SmsSender
    files: FileStore
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    mail: MailSender = field(default_factory=ConsoleMail)
    whatsapp: WhatsAppSender | None = None  # None: WhatsApp is off, nobody is offered it
    db_slots: anyio.CapacityLimiter = field(init=False)
    _sqlite_writer: anyio.CapacityLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.db_slots = anyio.CapacityLimiter(self.settings.database_pool_size)
        self._sqlite_writer = anyio.CapacityLimiter(1)

    def writer_slot(self, *, readonly: bool) -> AbstractAsyncContextManager[object]:
        """On SQLite, writing requests of this process take turns here, on the event loop.

        SQLite has one writer at a time and a writing transaction takes the lock at BEGIN.
        Without this turn, a second request's BEGIN IMMEDIATE blocks the event loop (or a
        pool thread) while the first request needs that loop to commit: both wait until
        the busy timeout. Waiting here costs nothing. PostgreSQL needs no turns.
        """
        if readonly or self.db.engine.dialect.name != "sqlite":
            return nullcontext()
        return self._sqlite_writer

    @property
    def secret(self) -> str:
        return self.settings.secret_key.get_secret_value()


def build_runtime(
    settings: Settings,
    db: Database | None = None,
    sms: SmsSender | None = None,
    hasher: PasswordHasher | None = None,
) -> Runtime:
    db = db or Database(engine_from_settings(settings))
    pii = bytes.fromhex(settings.pii_key.get_secret_value())
    cipher = PiiCipher(
        {settings.pii_key_id: pii}, settings.pii_key_id, derive_key(settings.secret_key.get_secret_value(), "blind-index")
    )
    if sms is None:
        if settings.sms_backend == "http":
            sms = HttpSms(settings.sms_http_url, settings.sms_http_token.get_secret_value(), settings.sms_sender_id)
        else:
            sms = ConsoleSms()
    files: FileStore
    if settings.files_backend == "s3":
        files = S3FileStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
        )
    else:
        files = LocalFileStore(settings.var_dir / "documents")
    mail: MailSender = ConsoleMail(sender=settings.mail_from)
    if settings.mail_backend == "smtp":
        mail = SmtpMail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
        )
    whatsapp: WhatsAppSender | None = None
    if settings.whatsapp_backend == "cloud":
        whatsapp = CloudWhatsApp(
            settings.whatsapp_api_url, settings.whatsapp_phone_number_id, settings.whatsapp_token.get_secret_value()
        )
    runtime = Runtime(
        settings=settings,
        db=db,
        cipher=cipher,
        sms=sms,
        files=files,
        hasher=hasher or PasswordHasher(),
        mail=mail,
        whatsapp=whatsapp,
    )
    db.info["runtime"] = runtime
    return runtime


def runtime_of(session: Session) -> Runtime:
    runtime = session.info.get("runtime")
    if not isinstance(runtime, Runtime):
        raise TypeError("this session was not made by a Runtime's Database")
    return runtime
