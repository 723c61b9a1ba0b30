"""Every authentication limit holds under 20 and more parallel requests, on the engine under test.

Each request runs on its own connection of a server with a database of its own (real commits),
as in tests/test_concurrent_writes.py. The requests come through a trusted proxy (10.0.0.1) that
names the client in X-Forwarded-For, so one test client can be many addresses.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.app import create_app
from nagara.identity import service as identity
from nagara.identity.models import OtpChallenge
from nagara.kit.migrate import upgrade
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.runner import Worker
from tests.conftest import FAST_ARGON2, PACKS, PASSWORD, TOTP_SECRET, DatabaseFactory

PROXY = "10.0.0.1"
N = 20


@dataclass
class Node:
    runtime: Runtime
    client: TestClient

    def post(self, path: str, body: dict[str, Any], address: str) -> Any:
        return self.client.post(path, json=body, headers={"X-Forwarded-For": address})

    def officer(self, username: str) -> None:
        with self.runtime.db.unit_of_work() as s:
            identity.create_officer(
                s,
                None,
                state_code="kl",
                username=username,
                name="Parallel Officer",
                password=PASSWORD,
                role="section_clerk",
                place=identity.Place("kl", "kl.tvm-corp"),
                totp_secret=TOTP_SECRET,
            )


@pytest.fixture(scope="module")
def node(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("limits")
    settings = Settings(
        env="test",
        database_url=db_factory.new_url(migrated=False),
        var_dir=tmp,
        worker_embedded=False,
        trusted_proxies=[PROXY],
    )
    rt = build_runtime(settings, sms=ConsoleSms(), hasher=FAST_ARGON2)
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(PACKS / "kl"))
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver", client=(PROXY, 5000)) as client:
        yield Node(rt, client)
    rt.db.dispose()


def at_once(count: int, call: Callable[[int], Any]) -> list[int]:
    """``call(i)`` for i in range(count), all released together; their status codes, sorted."""
    start = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        try:
            status = call(i).status_code
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            status = -1
            print(repr(exc))  # noqa: T201
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(statuses)


def _code(node: Node, mobile: str) -> str:
    Worker(node.runtime.db).run_until_idle()
    assert isinstance(node.runtime.sms, ConsoleSms)
    texts = [text for to, text in node.runtime.sms.sent if to.endswith(mobile)]
    match = re.match(r"(\d{6}) is your Nagara sign-in code", texts[-1])
    assert match
    return match.group(1)


def test_parallel_wrong_codes_on_one_challenge_are_checked_at_most_the_limit(node: Node) -> None:
    mobile = "9847500001"
    asked = node.post("/api/v1/auth/otp", {"state": "kl", "mobile": mobile}, "203.0.113.1")
    assert asked.status_code == 201, asked.text
    challenge = asked.json()["challenge_id"]
    code = _code(node, mobile)
    wrong = "000000" if code != "000000" else "111111"
    limit = node.runtime.settings.otp_max_attempts

    def guess(_i: int) -> Any:
        body = {"state": "kl", "challenge_id": challenge, "mobile": mobile, "code": wrong}
        return node.post("/api/v1/auth/otp/verify", body, "203.0.113.1")

    statuses = at_once(N, guess)
    # The last counted wrong code is itself answered 429 (no attempts left); the rest never reach the check.
    assert statuses.count(422) == limit - 1, statuses
    assert statuses.count(429) == N - limit + 1, statuses
    with node.runtime.db.unit_of_work() as s:
        row = s.get(OtpChallenge, challenge)
        assert row is not None
        assert row.attempts == limit
    right = {"state": "kl", "challenge_id": challenge, "mobile": mobile, "code": code}
    assert node.post("/api/v1/auth/otp/verify", right, "203.0.113.1").status_code == 429


def test_parallel_right_codes_sign_in_once(node: Node) -> None:
    mobile = "9847500002"
    asked = node.post("/api/v1/auth/otp", {"state": "kl", "mobile": mobile}, "203.0.113.2")
    challenge = asked.json()["challenge_id"]
    body = {"state": "kl", "challenge_id": challenge, "mobile": mobile, "code": _code(node, mobile)}
    statuses = at_once(N, lambda _i: node.post("/api/v1/auth/otp/verify", body, "203.0.113.2"))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) - {200} == {422}, statuses


def test_parallel_code_requests_for_one_number_send_at_most_the_limit(node: Node) -> None:
    mobile = "9847500003"
    limit = node.runtime.settings.otp_per_number_per_hour
    statuses = at_once(N, lambda i: node.post("/api/v1/auth/otp", {"state": "kl", "mobile": mobile}, f"198.51.100.{i + 1}"))
    assert statuses.count(201) == limit, statuses
    assert statuses.count(429) == N - limit, statuses
    index = identity.mobile_index(node.runtime, "kl", identity.normalise_mobile(mobile))
    with node.runtime.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).where(OtpChallenge.mobile_index == index)) == limit


def test_parallel_code_requests_from_one_address_send_at_most_the_limit(node: Node) -> None:
    limit = node.runtime.settings.otp_per_address_per_hour
    total = limit + 10
    statuses = at_once(total, lambda i: node.post("/api/v1/auth/otp", {"state": "kl", "mobile": f"98476{i:05d}"}, "192.0.2.77"))
    assert statuses.count(201) == limit, statuses
    assert statuses.count(429) == total - limit, statuses
    with node.runtime.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).where(OtpChallenge.ip == "192.0.2.77")) == limit


def _login(node: Node, username: str, address: str, *, password: str = PASSWORD, totp: str | None = None) -> Any:
    body = {"username": username, "password": password, "totp": totp or pyotp.TOTP(TOTP_SECRET).now()}
    return node.post("/api/v1/auth/officer", body, address)


def test_parallel_wrong_passwords_lock_the_account_at_that_address(node: Node) -> None:
    node.officer("parallel.guessed")
    limit = node.runtime.settings.login_max_failures
    statuses = at_once(N, lambda _i: _login(node, "parallel.guessed", "203.0.113.50", password="not the password at all"))
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == N - limit, statuses
    locked = _login(node, "parallel.guessed", "203.0.113.50")  # even the right password, from there
    assert locked.status_code == 429, locked.text
    assert "locked" in locked.json()["detail"]
    # The officer at their own desk still signs in.
    assert _login(node, "parallel.guessed", "203.0.113.99").status_code == 200


def test_parallel_wrong_passwords_from_many_addresses_meet_the_per_username_cap(node: Node) -> None:
    node.officer("parallel.spread")
    cap = node.runtime.settings.login_max_failures_per_user
    total = cap + 10
    statuses = at_once(total, lambda i: _login(node, "parallel.spread", f"198.18.0.{i + 1}", password="not the password at all"))
    assert statuses.count(401) == cap, statuses
    assert statuses.count(429) == total - cap, statuses
    assert _login(node, "parallel.spread", "198.18.1.1").status_code == 429


def test_parallel_reuse_of_one_authenticator_code_signs_in_once(node: Node) -> None:
    node.officer("parallel.replayed")
    code = pyotp.TOTP(TOTP_SECRET).now()
    statuses = at_once(N, lambda i: _login(node, "parallel.replayed", f"198.19.0.{i + 1}", totp=code))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) - {200} == {401}, statuses


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(node: Node, db_factory: DatabaseFactory, tmp_path: Path) -> None:
    # Through the trusted proxy each forwarded address has its own count ...
    for i in range(3):
        assert node.post("/api/v1/auth/otp", {"state": "kl", "mobile": f"98477{i:05d}"}, f"192.0.2.{200 + i}").status_code == 201
    with node.runtime.db.unit_of_work() as s:
        assert s.scalar(select(OtpChallenge.ip).where(OtpChallenge.ip == "192.0.2.201")) == "192.0.2.201"
    # ... from any other peer the header is ignored: the peer's own address is the client's.
    direct = TestClient(node.client.app, base_url="https://testserver", client=("192.0.2.150", 5000))
    asked = direct.post("/api/v1/auth/otp", json={"state": "kl", "mobile": "9847800001"}, headers={"X-Forwarded-For": "1.2.3.4"})
    assert asked.status_code == 201
    with node.runtime.db.unit_of_work() as s:
        row = s.get(OtpChallenge, asked.json()["challenge_id"])
        assert row is not None
        assert row.ip == "192.0.2.150"
