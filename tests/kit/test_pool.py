"""Pooled connections: pinged before use only after sitting idle, and a dead one is replaced."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from nagara.kit import db
from tests.conftest import DatabaseFactory, backend

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="the ping and reconnect are PostgreSQL's (SQLite has no server)"
)


def _pings(engine: Any) -> list[str]:
    pinged: list[str] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pinged.append("ping")
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted
    return pinged


def test_a_connection_in_steady_use_is_not_pinged(db_factory: DatabaseFactory) -> None:
    engine = db.make_engine(db_factory.new_url(migrated=False), pool_size=1)
    pinged = _pings(engine)
    try:
        for _ in range(5):
            with engine.connect() as c:
                assert c.execute(text("SELECT 1")).scalar() == 1
        assert pinged == []
    finally:
        engine.dispose()


def test_a_connection_closed_while_idle_is_replaced(db_factory: DatabaseFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database ended an idle pooled connection (a restart, an idle timeout): the next use reconnects."""
    engine = db.make_engine(db_factory.new_url(migrated=False), pool_size=1)
    pinged = _pings(engine)
    try:
        with engine.connect() as c:
            old = c.execute(text("SELECT pg_backend_pid()")).scalar()
        assert db_factory.admin is not None
        with db_factory.admin.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old})
        monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)
        with engine.connect() as c:
            new = c.execute(text("SELECT pg_backend_pid()")).scalar()
        assert new != old
        assert pinged  # found dead by the ping, not by a failed statement
    finally:
        engine.dispose()
