"""The place of a request: read once per unit of work, shared across them, and never stale after a pack load."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from nagara.catalog import service as catalog
from nagara.kit.db import Database, make_engine
from nagara.kit.errors import NotFound
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy import context, service
from nagara.tenancy.context import BodyPlace, parse_tenant
from nagara.tenancy.models import LocalBody, State
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.packs_merge import deep_merge
from tests.conftest import PACKS, ROOT, DatabaseFactory
from tests.conftest import test_settings as settings_for
from tests.ledger.child import child_env

TVM = "kl.tvm-corp"
NEW_HOLIDAY = date(2030, 1, 7)  # a Monday: a working day until the changed pack says otherwise


@contextmanager
def selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements sent to the database inside the block."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def read_everything(runtime: Runtime) -> None:
    """Every way the code asks for a place, twice, in one unit of work."""
    with runtime.db.unit_of_work(readonly=True) as s:
        for _ in range(2):
            context.place(s, TVM)
            context.place(s, "kl")
            context.body_place(s, TVM)
            context.zone_of(s, "kl")
            service.working_calendar(s, TVM)
            service.effective_settings(s, TVM)
            catalog.resolve_tenant(s, TVM)
            catalog.list_services(s, TVM)
            version_id = catalog.get_service(s, TVM, "birth-registration").version_id
            catalog.service_of(s, version_id, TVM)


def changed_kl(tmp_path: Path) -> Path:
    """The Kerala pack in another time zone, with one more state holiday and other office hours at Thiruvananthapuram."""
    target = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", target)

    def edit(rel: str, change: Any) -> None:
        path = target / rel
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    def bodies(data: dict[str, Any]) -> None:
        tvm = next(b for b in data["local_bodies"] if b["code"] == "tvm-corp")
        tvm["overrides"]["office_hours"] = {"opens": "09:00", "closes": "16:00"}

    edit("pack.yaml", lambda d: d.update(timezone="Asia/Dubai"))
    edit(
        "calendar.yaml",
        lambda d: d["holidays"].append(
            {"date": NEW_HOLIDAY.isoformat(), "name": {"ml": "പുതിയ", "en": "New", "kn": "ಹೊಸ", "hi": "नया"}}
        ),
    )
    edit("local_bodies.yaml", bodies)
    return target


def assert_changed(runtime: Runtime) -> None:
    with runtime.db.unit_of_work(readonly=True) as s:
        place = context.body_place(s, TVM)
        assert place.timezone == "Asia/Dubai"
        assert not place.calendar.is_working_day(NEW_HOLIDAY)
        assert place.settings["office_hours"]["opens"] == "09:00"
        assert context.place(s, "kl").zone.key == "Asia/Dubai"


def assert_unchanged(runtime: Runtime) -> BodyPlace:
    with runtime.db.unit_of_work(readonly=True) as s:
        place = context.body_place(s, TVM)
        assert place.timezone == "Asia/Kolkata"
        assert place.calendar.is_working_day(NEW_HOLIDAY)
        return place


def test_tenant_codes_are_parsed_in_one_place() -> None:
    assert parse_tenant("kl") == context.TenantCode("kl", None)
    assert parse_tenant("kl.tvm-corp") == context.TenantCode("kl", "kl.tvm-corp")
    assert parse_tenant("kl.tvm-corp").short == "tvm-corp"
    assert parse_tenant("kl").code == "kl"


def test_a_place_is_read_once_per_unit_of_work(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        context.invalidate(s, "kl")  # this process forgets Kerala: the next unit of work reads it
    with selects(runtime.db.engine) as cold:
        read_everything(runtime)
    place_reads = [q for q in cold if "FROM states" in q or "FROM local_bodies" in q]
    assert len(place_reads) == 2, place_reads  # the state's row and the body's row, once each

    with selects(runtime.db.engine) as warm:
        read_everything(runtime)
    assert len(warm) == 1, warm  # only the check of the state's pack digest
    assert "pack_digest" in warm[0]
    assert "FROM states" in warm[0]


def test_units_of_work_share_one_frozen_place(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        first = context.body_place(s, TVM)
    with runtime.db.unit_of_work() as s:
        second = context.body_place(s, TVM)
        assert context.place(s, "kl") is context.place(s, "kl")
    assert second is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.body = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.settings["office_hours"]["opens"] = "06:00"  # type: ignore[index]
    with pytest.raises(AttributeError):
        first.state.languages.append("hi")  # type: ignore[attr-defined]


def test_effective_settings_merge_as_the_pack_says(runtime: Runtime) -> None:
    """The frozen merge (sharing what a body leaves alone) gives what deep_merge gives, for every shipped body."""
    with runtime.db.unit_of_work() as s:
        states = {st.code: st for st in s.scalars(select(State))}
        for body in s.scalars(select(LocalBody)):
            state = states[body.state_code]
            expected = deep_merge({**state.defaults, "calendar": state.calendar}, body.overrides)
            assert service.effective_settings(s, body.code) == expected, body.code
        tvm = service.effective_settings(s, TVM)
        tvm["office_hours"] = {}  # a caller's copy: the shared place is untouched
        assert context.body_place(s, TVM).settings["office_hours"]


def test_unknown_places_are_not_found(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        with pytest.raises(NotFound, match="no tenant 'zz'"):
            context.place(s, "zz")
        for code in ("kl", "kl.atlantis", "zz.tvm-corp"):
            with pytest.raises(NotFound, match=f"no local body {code!r}"):
                context.body_place(s, code)
        assert context.zone_of(s, None).key == context.DEFAULT_TIMEZONE


def test_a_pack_load_in_this_process_is_seen_at_once(runtime: Runtime, tmp_path: Path) -> None:
    before = assert_unchanged(runtime)
    with runtime.db.unit_of_work() as s:
        assert context.body_place(s, TVM) is before
        service.load_pack(s, read_pack(changed_kl(tmp_path)))
        assert context.body_place(s, TVM).timezone == "Asia/Dubai"  # in the loading unit of work too
    assert_changed(runtime)


@pytest.fixture
def own_database(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Runtime]:
    """A database of its own with the shipped packs, committed, so another engine or process can write to it."""
    rt = build_runtime(settings_for(db_factory.new_url(), tmp_path / "var"))
    with rt.db.unit_of_work() as s:
        for directory in discover(PACKS):
            service.load_pack(s, read_pack(directory))
    yield rt
    rt.db.dispose()


def test_a_pack_loaded_through_another_engine_is_seen_by_the_next_unit_of_work(
    own_database: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = own_database
    assert_unchanged(rt)
    # Another process: its own engine, and no word of the load reaches this process's cache.
    monkeypatch.setattr(service, "invalidate", lambda *_: None)
    other = Database(make_engine(rt.settings.database_url))
    try:
        with other.unit_of_work() as s:
            service.load_pack(s, read_pack(changed_kl(tmp_path)))
    finally:
        other.dispose()
    assert_changed(rt)


def test_nagara_pack_load_from_the_command_line_is_seen_by_a_running_process(own_database: Runtime, tmp_path: Path) -> None:
    rt = own_database
    before = assert_unchanged(rt)
    with rt.db.unit_of_work() as s:
        assert context.body_place(s, TVM) is before  # kept in this process
    env = child_env({"env": "test", "database_url": rt.settings.database_url, "var_dir": str(tmp_path / "cli-var")})
    loaded = subprocess.run(
        [sys.executable, "-m", "nagara", "pack", "load", str(changed_kl(tmp_path))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert_changed(rt)


def test_a_digest_read_with_other_rows_spares_the_check_only_when_it_matches(runtime: Runtime) -> None:
    with runtime.db.unit_of_work(readonly=True) as s:
        context.place(s, TVM)  # the process now keeps Kerala's place
        digest = s.scalar(select(State.pack_digest).where(State.code == "kl"))
    engine = runtime.db.engine
    with runtime.db.unit_of_work(readonly=True) as s:
        context.digest_read(s, "kl", digest)
        with selects(engine) as seen:
            context.place(s, TVM)
        assert seen == []  # the digest came with the caller's own query
    with runtime.db.unit_of_work(readonly=True) as s:
        context.digest_read(s, "kl", "a digest of some other pack")
        with selects(engine) as seen:
            context.place(s, TVM)
        assert seen  # a digest that differs is not trusted: the place is checked and read again
