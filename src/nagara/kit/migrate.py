"""Run Alembic programmatically: ``nagara db upgrade`` and the tests use this, not alembic.ini."""

from __future__ import annotations

import functools
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nagara") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision`` in one transaction.

    On SQLite, Alembic changes a table by copying it and dropping the old one; with foreign keys
    enforced, dropping ``users`` deleted every row that cascades from it (sessions, keys, grants).
    Enforcement is off during the upgrade, as SQLite's documentation prescribes for table
    changes, and the upgrade fails (and rolls back) if it left a dangling reference.
    """
    cfg = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside any transaction: inside one SQLite ignores it
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise RuntimeError(f"the upgrade left references to missing rows: {dangling[:5]}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)


def revision(engine: Engine, message: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


@functools.cache
def heads() -> frozenset[str]:
    """The revisions the code's migrations end at."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nagara") / "migrations"))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def at_head(connection: Connection) -> tuple[bool, str]:
    """Whether the database's schema is the code's (its revisions, for the message)."""
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    return current == heads(), ", ".join(sorted(current)) or "none"
