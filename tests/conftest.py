"""Test fixtures: one database per test run and engine, migrated with Alembic and loaded with
the shipped packs; each test runs inside a transaction that is rolled back.

``TEST_DB=sqlite`` (default) or ``TEST_DB=postgresql``. Under CI (``CI=true``)
an unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from nagara.app import create_app
from nagara.domains import load_all
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit import migrate
from nagara.kit.db import Database, make_engine, utcnow
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.models import LocalBody
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.service import load_pack

ROOT = Path(__file__).resolve().parents[1]
PACKS = ROOT / "packs"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "correct horse battery staple"
# Still Argon2id, with the smallest cost, so fixtures that create many officers stay quick.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

load_all()

# Browser-test fixtures (live_server, browser, new_page, page, shot) and the axe helper.
pytest_plugins = ["tests.browser"]


def backend() -> str:
    return os.environ.get("TEST_DB", "sqlite")


class DatabaseFactory:
    """Creates empty, migrated databases for the chosen backend and drops them at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []
        self.admin: Engine | None = None
        if backend() == "postgresql":
            self.admin = create_engine(
                PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
            )
            try:
                with self.admin.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001 - any failure to connect means no PostgreSQL
                if os.environ.get("CI") == "true":
                    pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable under CI: {exc}", pytrace=False)
                pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")

    def new_url(self, migrated: bool = True) -> str:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"nagara_test_{worker}_{uuid.uuid4().hex[:8]}"
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.created.append(name)
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        else:
            url = f"sqlite:///{(self.tmp / (name + '.db')).as_posix()}"
        if migrated:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
        return url

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()


@pytest.fixture(scope="session")
def db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.close()


def test_settings(url: str, tmp: Path) -> Settings:
    return Settings(env="test", database_url=url, var_dir=tmp, packs_dir=PACKS, worker_embedded=False, log_json=False)


@pytest.fixture(scope="session")
def base_url(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database with every shipped pack loaded, shared (read-mostly) by the run."""
    url = db_factory.new_url()
    rt = build_runtime(test_settings(url, tmp_path_factory.mktemp("var")))
    with rt.db.unit_of_work() as session:
        for directory in discover(PACKS):
            load_pack(session, read_pack(directory))
    rt.db.dispose()
    return url


@pytest.fixture(scope="session")
def engine(base_url: str) -> Iterator[Engine]:
    eng = make_engine(base_url)
    yield eng
    eng.dispose()


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path, base_url: str) -> Iterator[Runtime]:
    """A runtime whose every unit of work commits into a savepoint of one rolled-back transaction."""
    conn = engine.connect()
    outer = conn.begin()
    db = Database(engine, bind=conn, join_transaction_mode="create_savepoint")
    rt = build_runtime(test_settings(base_url, tmp_path), db=db, sms=ConsoleSms(), hasher=FAST_ARGON2)
    try:
        yield rt
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime=runtime, start_worker=False)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


@dataclass
class People:
    """Officers of two local bodies of Kerala and one of Karnataka, and two citizens."""

    runtime: Runtime
    client: TestClient
    body_a: str
    body_b: str
    body_ka: str
    users: dict[str, User]

    def token(self, name: str) -> str:
        with self.runtime.db.unit_of_work() as s:
            return identity.issue_token(s, s.get(User, self.users[name].id), "bearer")  # type: ignore[arg-type]

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"}


def make_officer(session: Session, username: str, role: str, state: str, local_body: str | None) -> User:
    return identity.create_officer(
        session,
        None,
        state_code=state,
        username=username,
        name=username.title(),
        password=PASSWORD,
        role=role,
        place=identity.Place(state, local_body),
        totp_secret=TOTP_SECRET,
    ).user


def make_citizen(session: Session, runtime: Runtime, state: str, mobile: str) -> User:
    number = identity.normalise_mobile(mobile)
    user = User(
        kind="citizen",
        state_code=state,
        mobile_index=identity.mobile_index(runtime, state, number),
        mobile_sealed=runtime.cipher.encrypt(number, context="mobile"),
    )
    session.add(user)
    session.flush()

    session.add(RoleAssignment(user_id=user.id, state_code=state, role_code="citizen"))
    session.flush()
    return user


def totp_now() -> str:
    return pyotp.TOTP(TOTP_SECRET).now()


def totp_next() -> str:
    """The authenticator's next code (accepted as the current step's neighbour): a second sign-in
    of one officer within the same 30 seconds needs it, as a code signs in only once."""
    totp = pyotp.TOTP(TOTP_SECRET)
    return totp.at(utcnow() + timedelta(seconds=totp.interval))


@pytest.fixture
def people(runtime: Runtime, client: TestClient) -> People:

    with runtime.db.unit_of_work() as s:
        kl = list(
            s.scalars(
                select(LocalBody.code)
                .where(LocalBody.state_code == "kl", LocalBody.type == "corporation")
                .order_by(LocalBody.code)
                .limit(2)
            )
        )
        ka = s.scalar(select(LocalBody.code).where(LocalBody.state_code == "ka").order_by(LocalBody.code).limit(1))
        assert len(kl) == 2 and ka, "the shipped packs must have two Kerala corporations and a Karnataka local body"
        users: dict[str, User] = {}
        for prefix, body in (("a", kl[0]), ("b", kl[1])):
            for role in ("secretary", "officer", "section_clerk", "counter_clerk", "operator"):
                users[f"{prefix}_{role}"] = make_officer(s, f"{prefix}.{role}", role, "kl", body)
        users["ka_secretary"] = make_officer(s, "ka.secretary", "secretary", "ka", ka)
        users["kl_admin"] = make_officer(s, "kl.admin.t", "state_admin", "kl", None)
        users["kl_auditor"] = make_officer(s, "kl.auditor.t", "auditor", "kl", None)
        users["citizen1"] = make_citizen(s, runtime, "kl", "9847000001")
        users["citizen2"] = make_citizen(s, runtime, "kl", "9847000002")
    return People(runtime, client, kl[0], kl[1], ka, users)
