"""Models and migrations agree (``alembic check``), on the engine under test."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from nagara.identity.models import AuthToken
from nagara.kit import migrate
from nagara.kit.db import make_engine, utcnow
from tests.conftest import DatabaseFactory


def test_migrations_match_the_models(db_factory: DatabaseFactory) -> None:
    engine = make_engine(db_factory.new_url())
    try:
        migrate.check(engine)  # raises when autogenerate would add anything
    finally:
        engine.dispose()


def test_api_keys_that_never_expired_expire_after_the_upgrade(db_factory: DatabaseFactory) -> None:
    """identity0001: a partner's key issued when keys lived forever gets the default 90 days."""
    engine = make_engine(db_factory.new_url(migrated=False))
    try:
        migrate.upgrade(engine, "search0001")  # the revision before identity0001
        # Rows as that schema has them (the models describe the newest: users.failed_logins, a
        # NOT NULL column then, has since gone).
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, kind, username, language, is_active, failed_logins, created_at, updated_at) "
                    "VALUES ('p1', 'partner', 'old.partner', 'en', :yes, 0, :now, :now)"
                ),
                {"yes": True, "now": now},
            )
            for token_id, kind in (("k1", "api_key"), ("b1", "bearer")):
                conn.execute(AuthToken.__table__.insert().values(id=token_id, user_id="p1", kind=kind, token_hash=token_id * 32))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            expiry = {row.id: row.expires_at for row in conn.execute(select(AuthToken.id, AuthToken.expires_at))}
        assert expiry["b1"] is None  # only keys are given an end
        assert expiry["k1"] is not None
        assert abs(expiry["k1"] - (utcnow() + timedelta(days=90))) < timedelta(hours=1)
    finally:
        engine.dispose()
