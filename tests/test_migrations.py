"""Models and migrations agree (``alembic check``), on the engine under test."""

from __future__ import annotations

from nagara.kit import migrate
from nagara.kit.db import make_engine
from tests.conftest import DatabaseFactory


def test_migrations_match_the_models(db_factory: DatabaseFactory) -> None:
    engine = make_engine(db_factory.new_url())
    try:
        migrate.check(engine)  # raises when autogenerate would add anything
    finally:
        engine.dispose()
