"""Killing the worker while it hands a message to the provider loses none and delivers none twice.

``nagara worker`` runs as a child process on a database of its own, with the HTTP SMS backend
pointed at a provider fake on loopback. The fake accepts the first message (it records it under its
``Idempotency-Key``) and then holds the answer, so the worker is inside the send job's transaction,
after the provider has the message and before the worker could record it, when it is killed with
SIGKILL. The job's lease is then let run out (set in the past: what waiting would do) and a second
worker started. It sends that message again, with the same idempotency key (the message's id), and
the provider drops the duplicate: every message reaches the citizen exactly once, though the
provider saw the first one twice (at least once, made exactly once by the key).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from nagara.kit.db import utcnow
from nagara.kit.settings import Settings
from nagara.notifications import service
from nagara.notifications.models import Notification
from nagara.runtime import build_runtime
from nagara.tenancy.models import State
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.models import Job
from tests.conftest import PACKS, DatabaseFactory, make_citizen
from tests.ledger.child import Child, child_env


class Holding:
    """A provider that keeps each message once by its Idempotency-Key and can hold its answers."""

    def __init__(self) -> None:
        self.requests: list[str] = []  # idempotency keys, in order
        self.delivered: dict[str, str] = {}  # key -> provider id
        self.hold_first = threading.Event()  # set: the first request's answer waits for release
        self.release = threading.Event()
        self.first_arrived = threading.Event()
        self.lock = threading.Lock()
        self.url = ""


@contextmanager
def holding_provider() -> Iterator[Holding]:
    state = Holding()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            key = self.headers["Idempotency-Key"]
            with state.lock:
                first = not state.requests
                state.requests.append(key)
                state.delivered.setdefault(key, f"prov-{len(state.delivered) + 1}")
                ident = state.delivered[key]
            if first and state.hold_first.is_set():
                state.first_arrived.set()
                state.release.wait(60)
            body = json.dumps({"id": ident}).encode()
            try:
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the worker that asked is dead

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def test_a_worker_killed_mid_send_delivers_each_message_once_after_restart(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    shutil.copytree(PACKS / "kl", packs / "kl")
    settings = Settings(env="test", database_url=db_factory.new_url(), var_dir=tmp_path / "var", worker_embedded=False)
    rt = build_runtime(settings)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(packs / "kl"))
        state = s.get(State, "kl")
        assert state is not None
        state.notifications = {**state.notifications, "quiet_hours": {"from": "00:00", "until": "00:00"}}  # never quiet
        people = [make_citizen(s, rt, "kl", f"98470001{n:02d}") for n in range(3)]
    with rt.db.unit_of_work() as s:
        about = service.About("kl", "kl.tvm-corp", None, None, "kill-test")
        whom = service.recipients(s, rt, [p.id for p in people])
        values = {"due_today": "3", "overdue": "1", "link": "https://kl.example.gov.in/officer"}
        written = service.compose(s, rt, about, "digest", whom, values, link=values["link"], now=utcnow())
        ids = sorted(n.id for n in written if n.channel == "sms")
    assert len(ids) == 3

    with holding_provider() as provider:
        provider.hold_first.set()
        env = child_env(
            {
                "env": "test",
                "database_url": settings.database_url,
                "var_dir": str(settings.var_dir),
                "worker_embedded": "false",
                "worker_poll_seconds": "0.05",
                "sms_backend": "http",
                "sms_http_url": provider.url,
                "sms_http_token": "provider-token",
                "log_level": "WARNING",
                "log_json": "false",
            }
        )
        first = Child(["worker"], env, tmp_path / "worker-1.log")
        try:
            first.wait_for("the first message at the provider", provider.first_arrived.is_set)
        finally:
            first.kill()
        provider.hold_first.clear()
        provider.release.set()
        assert len(provider.requests) == 1
        with rt.db.unit_of_work() as s:
            # what the killed worker left: the message not recorded as handed over, its job still leased
            assert {n.status for n in s.scalars(select(Notification).where(Notification.id.in_(ids)))} == {"created"}
            s.execute(
                update(Job)
                .where(Job.name == "notifications.send", Job.status == "running")
                .values(locked_until=utcnow() - timedelta(seconds=1))
            )

        second = Child(["worker"], env, tmp_path / "worker-2.log")
        try:

            def all_handed() -> bool:
                with rt.db.unit_of_work() as s:
                    rows = list(s.scalars(select(Notification).where(Notification.id.in_(ids))))
                    return all(n.status == "sending" for n in rows)

            second.wait_for("every message handed over", all_handed)
        finally:
            second.kill()

    assert sorted(provider.delivered) == ids  # each message delivered, once, under its own id
    assert len(provider.requests) == 4  # the first one was asked twice, with the same key
    assert provider.requests.count(provider.requests[0]) == 2
    with rt.db.unit_of_work() as s:
        rows = {n.id: n for n in s.scalars(select(Notification).where(Notification.id.in_(ids)))}
        assert {i: rows[i].provider_id for i in ids} == {i: provider.delivered[i] for i in ids}
        assert all(rows[i].handed_at is not None for i in ids)
    rt.db.dispose()
