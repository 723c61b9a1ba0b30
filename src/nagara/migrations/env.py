"""Alembic environment: the URL comes from the caller (``nagara db upgrade``) or the settings."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from nagara.domains import load_all
from nagara.kit.db import Base, make_engine

load_all()
config = context.config
target_metadata = Base.metadata


def _on_this_engine(connection: Connection) -> Any:
    """Compare an object the models create on one engine only (``Index(...).ddl_if(dialect=...)``) only there."""

    def include(obj: Any, _name: str | None, _type: str, _reflected: bool, _compare_to: Any) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect is None or condition.dialect == connection.dialect.name

    return include


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, render_as_batch=True, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=_on_this_engine(connection),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=_on_this_engine(conn),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
