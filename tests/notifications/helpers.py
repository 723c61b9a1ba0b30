"""Steps shared by the notification tests."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.kit.db import utcnow
from nagara.notifications.models import Notification
from nagara.runtime import Runtime
from nagara.tenancy.context import invalidate
from nagara.tenancy.models import State
from nagara.worker.runner import Worker
from tests.conftest import People


def deliver(runtime: Runtime) -> None:
    """What the worker does: the committed steps' jobs write their messages, then what is due is sent."""
    Worker(runtime.db).run_until_idle()


def messages(runtime: Runtime, number: str | None = None) -> list[Notification]:
    with runtime.db.unit_of_work() as s:
        query = select(Notification).order_by(Notification.created_at, Notification.channel)
        if number is not None:
            query = query.where(Notification.application_number == number)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def set_language(client: TestClient, people: People, who: str, language: str) -> None:
    response = client.patch("/api/v1/me", json={"language": language}, headers=people.headers(who))
    assert response.status_code == 200, response.text


def set_channels(client: TestClient, people: People, who: str, channels: list[str], email: str | None = None) -> None:
    response = client.put(
        "/api/v1/me/notification-preferences", json={"channels": channels, "email": email}, headers=people.headers(who)
    )
    assert response.status_code == 200, response.text


def quiet_hours(runtime: Runtime, state: str, *, now_inside: bool) -> None:
    """Set the state's quiet hours to a window that holds the present moment, or one that does not
    (the tests must not depend on the hour they run at)."""
    zone = ZoneInfo("Asia/Kolkata")
    local = utcnow().astimezone(zone)
    if now_inside:
        start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    else:
        start, end = local + timedelta(hours=3), local + timedelta(hours=4)
    with runtime.db.unit_of_work() as s:
        row = s.get(State, state)
        assert row is not None
        row.notifications = {
            **row.notifications,
            "quiet_hours": {"from": start.strftime("%H:%M"), "until": end.strftime("%H:%M")},
        }
        s.flush()
        invalidate(s, state)
