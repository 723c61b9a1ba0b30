"""Database engine, declarative base and the unit of work.

The rule: one boundary (a request's unit of work, or a job's) owns commit and
rollback. Services receive a ``Session`` and only ``flush()``.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    ColumnDefault,
    ColumnElement,
    DateTime,
    MetaData,
    Select,
    String,
    TypeDecorator,
    and_,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool

from nagara.kit.errors import Problem
from nagara.kit.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_SET_TIME: ContextVar[datetime | None] = ContextVar("nagara_set_time", default=None)


def utcnow() -> datetime:
    """Now, in UTC: the one clock of the code (column defaults, services, the workflow's steps).

    Inside :func:`clock_set_to` it is the time that context set; nothing else changes it.
    """
    at = _SET_TIME.get()
    return datetime.now(UTC) if at is None else at


@contextmanager
def clock_set_to(at: datetime) -> Iterator[None]:
    """Run the block as if it were ``at``: every ``utcnow()`` in this thread (or task) returns it.

    For writing a history that happened earlier through the real services (``nagara sample``
    back-dates its applications, payments and certificates); it ends with the block, and other
    threads and requests never see it.
    """
    if at.tzinfo is None:
        raise ValueError("naive datetime given; the clock is set to an aware time")
    token = _SET_TIME.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _SET_TIME.reset(token)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use nagara.kit.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}

    def __init__(self, **kwargs: Any) -> None:
        """Set the given attributes, and the columns' fixed defaults (``default=0``, ``False``) now.

        SQLAlchemy applies a column's default only at INSERT; code that reads a new row before
        the flush (the workflow numbers a new case's first step from ``last_seq``) would see
        None. Defaults that are functions (ids, times, fresh lists) still run at INSERT.
        """
        cls = type(self)
        for key, value in {**_fixed_defaults(cls), **kwargs}.items():
            if not hasattr(cls, key):
                raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")
            setattr(self, key, value)


@functools.cache
def _fixed_defaults(cls: type[Base]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for prop in inspect(cls).column_attrs:
        default = getattr(prop.columns[0], "default", None)
        if isinstance(default, ColumnDefault) and default.is_scalar:
            found[prop.key] = default.arg
    return found


def new_id() -> str:
    """Primary keys are random UUIDs as text: safe to expose, mergeable across shards."""
    return str(uuid.uuid4())


class IdMixin:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A writing transaction takes the write lock at BEGIN so concurrent writers
    # queue on busy_timeout instead of failing when a read lock is upgraded.
    # Read-only units of work use a plain (deferred) BEGIN and never block.
    if conn.get_execution_options().get("nagara_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10, autocommit: bool = False) -> Engine:
    """An engine with its own pool. ``autocommit`` (PostgreSQL): every connection of the pool runs
    without BEGIN and COMMIT, for read-only units of work (see :class:`Database`)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "isolation_level": None},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, **options)
    event.listen(engine.pool, "checkin", _stamp_idle)
    event.listen(engine.pool, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled connection that sat idle may have been closed by a database restart or a network
# device; it is pinged (one round trip) before use only when it has been idle this long. A
# connection in steady use is not, which spares every request a round trip (pool_pre_ping
# measured at 12% of /api/v1/me's time); if the database restarts while connections are in
# steady use, the first statement on each fails, SQLAlchemy sees the disconnect and empties the
# pool, and the next requests connect afresh.
IDLE_BEFORE_PING = 5.0  # seconds


def _stamp_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
        return  # new, or in steady use
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, dbapi_connection, None):
            raise DisconnectionError("a pooled connection was closed while idle") from error  # the pool reconnects
        raise


def engine_from_settings(settings: Settings) -> Engine:
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, echo=settings.database_echo, pool_size=settings.database_pool_size)


def _pool_size(engine: Engine) -> int:
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        raise TypeError(f"a database engine here pools its connections in a QueuePool, not a {type(pool).__name__}")
    return pool.size()


class Database:
    """Owns the engine and hands out units of work.

    ``bind`` defaults to the engine; tests pass one connection inside an outer
    transaction (with ``join_transaction_mode="create_savepoint"``) so every
    commit a test makes is rolled back at its end.
    """

    def __init__(self, engine: Engine, *, bind: Engine | Connection | None = None, **session_kw: Any) -> None:
        self.engine = engine
        # Copied into every session's ``info``: how services reach the runtime.
        self.info: dict[str, Any] = {}
        target = bind if bind is not None else engine
        self.sessionmaker: Callable[[], Session] = sessionmaker(
            bind=target, expire_on_commit=False, autoflush=True, info=self.info, **session_kw
        )
        # A read-only unit of work (GET, HEAD, OPTIONS) on PostgreSQL runs without BEGIN and
        # COMMIT, which spares it two round trips: at READ COMMITTED each statement sees its own
        # snapshot inside a transaction too, so its reads see the same. It must not write
        # (each statement would commit alone): ``_refuse_writes`` makes that loud on both engines.
        # Its connections come from a pool of their own whose connections stay in autocommit:
        # switching a shared pool's connection into autocommit and back for each request cost two
        # calls into the driver, a third of /api/v1/me's CPU (measured in-process, 2026-12-06).
        self.readonly_engine: Engine | None = None
        readonly_target: Engine | Connection = target
        if bind is None and engine.dialect.name != "sqlite":
            self.readonly_engine = make_engine(
                engine.url.render_as_string(hide_password=False),
                echo=bool(engine.echo),
                pool_size=_pool_size(engine),
                autocommit=True,
            )
            readonly_target = self.readonly_engine
        if bind is None:
            readonly_target = readonly_target.execution_options(nagara_readonly=True)
        self.readonly_sessionmaker: Callable[[], Session] = sessionmaker(
            bind=readonly_target, expire_on_commit=False, info=self.info, **session_kw
        )

        # SQLite has one writer at a time. A process's writing units of work take turns on this
        # lock instead of meeting at the database's busy timeout: there, 50 threads that write at
        # once on a loaded machine waited longer than the timeout and failed ("database is
        # locked", seen in CI), and the busy handler's polling is neither fair nor cheap. A
        # reentrant lock, so a unit of work nested in another (a defect) still meets the busy
        # timeout and fails loudly rather than waiting forever. Other processes (the CLI beside
        # a server) still meet at the busy timeout.
        self._sqlite_writer: threading.RLock | None = (
            threading.RLock() if engine.dialect.name == "sqlite" and bind is None else None
        )

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Session]:
        """Commit when the block ends normally, roll back on any exception.

        Callbacks registered with :func:`after_commit` run after a successful
        commit and are dropped on rollback.
        """
        session = (self.readonly_sessionmaker if readonly else self.sessionmaker)()
        if readonly:
            session.info[READONLY] = True
        turn = self._sqlite_writer if not readonly else None
        if turn is not None:
            turn.acquire()
        try:
            yield session
            session.commit()
        except Problem as problem:
            if problem.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            callbacks = session.info.pop("after_commit", [])
            committed = session.info.pop("committed", False)
            owed = session.info.pop(OWED_WRITES, [])
            session.close()
            if turn is not None:
                turn.release()
            if committed:
                for callback in callbacks:
                    callback()
                if owed:
                    self.write_owed(owed)

    def write_owed(self, owed: list[Callable[[Session], None]]) -> None:
        """The writes a read-only unit of work owed (:func:`write_after`), in one writing unit of work."""
        with self.unit_of_work() as session:
            for work in owed:
                work(session)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.readonly_engine is not None:
            self.readonly_engine.dispose()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the unit of work owning ``session`` has committed."""
    session.info.setdefault("after_commit", []).append(callback)


OWED_WRITES = "nagara.owed_writes"


def write_after(session: Session, work: Callable[[Session], None]) -> None:
    """Write something a read owes (an access-log entry) without making the read a write.

    In a writing unit of work ``work(session)`` runs at once, in it. A read-only one (a GET)
    may not write: ``work`` then runs in a writing unit of work of its own once the read has
    committed (the request's unit of work does it before the response is sent, taking the
    SQLite writer's turn off the event loop), and not at all if the read failed.
    """
    if session.info.get(READONLY):
        session.info.setdefault(OWED_WRITES, []).append(work)
    else:
        work(session)


def take_owed_writes(session: Session) -> list[Callable[[Session], None]]:
    """The writes a read-only unit of work owes, for its owner to do after the commit."""
    owed: list[Callable[[Session], None]] = session.info.pop(OWED_WRITES, [])
    return owed


_MEMO = "nagara.memo"
READONLY = "nagara.readonly"


@event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only unit of work (a GET) tried to write; writes belong to POST, PUT, PATCH or DELETE")


def memo(session: Session) -> dict[str, Any]:
    """What this unit of work read or wrote and will ask for again (to answer without a query).

    The one place for such values, each under a key its module names. It is emptied when the
    session's transaction ends and by any rollback, a savepoint's too: nothing remembered
    outlives the transaction that read it or the rows it names.
    """
    found: dict[str, Any] = session.info.setdefault(_MEMO, {})
    return found


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the session's own transaction, not a savepoint inside it
        session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    session.info["committed"] = True


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("committed", None)


def insert_ignoring_conflict(session: Session | Connection, table: Any, values: dict[str, Any]) -> None:
    """INSERT that does nothing when a unique key already holds the row (both engines)."""
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())


def insert_if_absent(session: Session | Connection, table: Any, values: dict[str, Any]) -> bool:
    """Like :func:`insert_ignoring_conflict`, and say whether the row was new (psycopg reports no rowcount here)."""
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return session.execute(statement).first() is not None


# Above every character a text column can hold: ``prefix + TOP`` ends the range of values starting with ``prefix``.
TOP = "\U0010ffff"


def starts_with(session: Session, column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """``column`` begins with ``prefix``, written as a range of bytes that an index on the column serves.

    ``LIKE 'X%'`` uses no index on PostgreSQL when the database's collation is not "C" (its
    order is not the bytes'), nor on SQLite (whose LIKE ignores case); a range does. On
    PostgreSQL the range uses the pattern operators (``~>=~``, ``~<~``: bytewise, whatever the
    collation), served by an index built with ``varchar_pattern_ops``; SQLite compares bytes
    with its default collation, so a plain index on the column serves it.
    """
    end = prefix + TOP
    if session.get_bind().dialect.name == "postgresql":
        return and_(column.op("~>=~", is_comparison=True)(prefix), column.op("~<~", is_comparison=True)(end))
    return and_(column >= prefix, column < end)


def try_single_runner(session: Session, name: str) -> bool:
    """Take the single-runner lock ``name`` for the rest of this transaction.

    PostgreSQL: a transaction-scoped advisory lock, released by commit or
    rollback, so a crashed holder never blocks the next. SQLite: every writing
    transaction already holds the database's one write lock (BEGIN IMMEDIATE),
    so the holder is necessarily alone.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True

    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    return bool(session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())


def upsert_returning(
    session: Session | Connection,
    table: Any,
    values: dict[str, Any],
    *,
    index_elements: list[Any],
    set_: dict[str, Any],
    returning: list[Any],
) -> Any:
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE SET set_ RETURNING returning``: one atomic
    statement on both engines (each spells it from its own dialect's insert). In ``set_`` the
    table's columns name the row already there. Returns the one row."""
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(table).values(**values).on_conflict_do_update(index_elements=index_elements, set_=set_).returning(*returning)
    )
    return session.execute(statement).one()


_Plan = tuple[str, tuple[str, ...] | None, list[Any]]  # SQL, the names of positional parameters, result processors


class DriverQuery:
    """A SELECT that is compiled once per dialect and run on the driver's own cursor.

    For the one statement every authenticated request makes: SQLAlchemy's execution
    (its compiled-cache lookup, result metadata, the driver's column descriptions that it
    reads) cost more than the query's own round trip (measured: authentication 0.27 ->
    0.15 ms of CPU on PostgreSQL). The values still go through each column type's result
    processor, so they arrive as the ORM would give them (UTC datetimes, parsed JSON), and
    the engine's ``before_cursor_execute`` listeners still see the statement (the query
    budgets in tests count it). Rows are plain tuples in the order of ``selected_columns``.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            positional = tuple(compiled.positiontup or ()) if dialect.positional else None
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in self.statement.selected_columns
            ]
            plan = self._plans[dialect.name] = (compiled.string, positional, processors)
        return plan

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        connection = session.connection()
        sql, positional, processors = self._plan(connection.dialect)
        args: Any = tuple(params[name] for name in positional) if positional is not None else dict(params)
        cursor = connection.connection.cursor()
        try:
            if connection.dispatch.before_cursor_execute:
                connection.dispatch.before_cursor_execute(connection, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in fetched]


def lock_for_transaction(session: Session, name: str) -> None:
    """Wait for the lock ``name`` and hold it to the end of this transaction.

    PostgreSQL: a transaction-scoped advisory lock (a crashed holder never blocks the next).
    SQLite: every writing transaction already holds the database's one write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    session.execute(select(func.pg_advisory_xact_lock(key)))


def bulk_insert(session: Session, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows in the session's transaction, as fast as the engine takes them.

    PostgreSQL: ``COPY ... FROM STDIN`` on the session's connection (binary-free text COPY
    through psycopg, values adapted by the driver); SQLite: one ``executemany``. No ORM objects,
    no RETURNING, no defaults run: give every column the row needs. A unique key already held
    fails the statement, as an INSERT would, so check keys first.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
