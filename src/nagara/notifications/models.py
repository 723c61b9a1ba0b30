"""Messages to citizens and officers, and each person's preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, utcnow

CHANNELS = ("sms", "email", "whatsapp", "portal")
EXTERNAL = ("sms", "email", "whatsapp")  # sent through a provider; the portal's are delivered when written
# As GOV.UK Notify names them. "sending": handed to (or being handed to) the provider, no receipt yet.
STATUSES = ("created", "sending", "delivered", "temporary-failure", "permanent-failure", "technical-failure")
FINAL = ("delivered", "permanent-failure", "technical-failure")


class Notification(IdMixin, Base):
    """One message to one person on one channel.

    The table is its own outbox: the deliverer (``notifications.deliver``) takes rows that are
    ``created`` or in ``temporary-failure`` whose ``next_attempt_at`` has come, marks them
    ``sending`` (committed) before calling the provider, and records the provider's answer after.
    A message whose ``handed_at`` is empty while ``sending`` and whose lease ran out was never
    confirmed handed over (its process died): it is sent again with the same idempotency key
    (the message's id), which the provider uses to drop the duplicate. Not audited: it is
    plumbing like the jobs table, and its columns are its own record (status, attempts, times).
    Holds no address: the number or e-mail is read, unsealed, when the message is sent.
    """

    __tablename__ = "notifications"
    __audited__ = False
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_inbox", "user_id", "channel", "created_at"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state_code: Mapped[str] = mapped_column(String(8))
    local_body_code: Mapped[str | None] = mapped_column(String(80))
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    application_number: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    urgent: Mapped[bool] = mapped_column(default=False)
    statutory: Mapped[bool] = mapped_column(default=False)
    # One message per person, channel and step: the step's key (history entry, breach, digest day).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # SMS: the DLT template id; WhatsApp: the template's name. ``variables``: the values it was written with.
    provider_template: Mapped[str | None] = mapped_column(String(512))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(24), default="created")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()  # None: nothing more will be tried
    lease_until: Mapped[datetime | None] = mapped_column()
    handed_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()  # its useful life: dropped, not sent late, after this
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)
    failure: Mapped[str | None] = mapped_column(String(500))
    fallback_of: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()


class Preference(Base):
    """A person's channels and their opt-out of messages the law does not require.

    Without a row: SMS and the portal (citizens), the portal (officers); the language is the
    user's (``users.language``, set at sign-in and in the profile).
    """

    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON)  # in order of preference; "portal" always applies
    email_sealed: Mapped[str | None] = mapped_column(String(512))
    opt_out: Mapped[bool] = mapped_column(default=False)  # of non-statutory messages on outside channels
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def audit_tenant(self) -> str | None:
        return None
