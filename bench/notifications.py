"""Benchmark: notification fan-out for 10,000 events, beside a same-run reference of plain outbox inserts.

Run: ``.venv/bin/python bench/notifications.py [--db sqlite|postgresql] [--events 10000]``
(PostgreSQL at 127.0.0.1:5432 for ``--db postgresql``).

- reference: ``worker.registry.enqueue`` of ``--events`` plain outbox jobs, 500 per unit of work
  (what any after-commit reaction costs per event);
- queued: ``--events`` history entries (a citizen's submission of an application with a fee: the
  commonest step), each with the ``notifications.step`` job its step's transaction writes to the
  outbox (inserted in bulk, outside the timing), run by the worker (``Worker.run_until_idle``,
  batches of 20, one unit of work per job): each entry is read, mapped to its event (``fee_due``:
  the demand is read), rendered in the citizen's language, and written as a portal message and an
  SMS with its ``notifications.send`` job (held by quiet hours until the phase ends);
- handed over: the worker runs every send job (``Worker.run_until_idle``, batches of 20, one
  unit of work per job), each SMS posted to a provider fake on loopback over HTTP (``HttpSms``
  with DLT fields: one keep-alive connection, the fake answers at once).

Messages per second are reported for each phase; the reference's rows per second beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "nagara_bench_notifications"
BATCH = 500
FORM = {"applicant_name": "Lakshmi", "purpose": "education", "ward": 12}


class Fake(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for the whole run
    received = 0
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with Fake.lock:
            Fake.received += 1
            ident = Fake.received
        body = json.dumps({"id": f"prov-{ident}"}).encode()
        head = f"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.wfile.write(head.encode() + body)  # one write: no wait for a delayed ACK between header and body


def database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + DB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from nagara.applications import service as applications
    from nagara.domains import load_all
    from nagara.identity.models import RoleAssignment, User
    from nagara.identity.service import load_principal
    from nagara.kit.db import new_id, utcnow
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.kit.sms import HttpSms
    from nagara.notifications.models import Notification
    from nagara.runtime import build_runtime
    from nagara.tenancy.context import invalidate
    from nagara.tenancy.models import State
    from nagara.tenancy.packs import read_pack
    from nagara.tenancy.service import load_pack
    from nagara.worker.models import Job
    from nagara.worker.registry import enqueue, task
    from nagara.worker.runner import Worker
    from nagara.workflow.models import HistoryEntry

    load_all()
    tmp = Path(tempfile.mkdtemp(prefix="nagara-bench-notify-"))
    settings = Settings(env="test", database_url=database(args.db, tmp), var_dir=tmp, worker_embedded=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = httpx.Client(timeout=10)
    runtime = build_runtime(settings, sms=HttpSms(f"http://127.0.0.1:{server.server_address[1]}/sms", "t", "NAGARA", client=client))
    upgrade(runtime.db.engine)
    pack = tmp / "kl"
    import shutil

    shutil.copytree(ROOT / "packs" / "kl", pack)
    shutil.copy(ROOT / "bench" / "packs" / "quick-certificate.yaml", pack / "services")
    with runtime.db.unit_of_work() as s:
        load_pack(s, read_pack(pack))
        state = s.get(State, "kl")
        assert state is not None
        # quiet hours all day long: the SMS wait while the step jobs run, then their jobs are made due
        state.notifications = {**state.notifications, "quiet_hours": {"from": "00:00", "until": "23:59"}}
        s.flush()
        invalidate(s, "kl")
        citizen = User(kind="citizen", state_code="kl", mobile_index="bench-citizen", language="ml")
        citizen.mobile_sealed = runtime.cipher.encrypt("+919847000001", context="mobile")
        s.add(citizen)
        s.flush()
        s.add(RoleAssignment(user_id=citizen.id, state_code="kl", role_code="citizen"))
        s.flush()
        who = load_principal(s, citizen, "bearer")
        apps = [
            applications.create(s, who, tenant="kl.tvm-corp", service_code="quick-certificate", data=FORM, submit=True)
            for _ in range(50)
        ]
        template = s.scalars(select(HistoryEntry).where(HistoryEntry.application_id == apps[0].id, HistoryEntry.action == "submit")).one()
        app_ids = [a.id for a in apps]
        base = {c: getattr(template, c) for c in ("action", "from_state", "to_state", "actor_id", "actor_role", "comment", "data")}

    Worker(runtime.db).run_until_idle(max_rounds=10**9)  # warm: the pack in the process's cache, the 50 real submissions

    @task("bench.noop")
    def noop(session: Any, payload: dict[str, Any]) -> None:
        pass

    # reference: plain outbox inserts
    started = time.perf_counter()
    for start in range(0, args.events, BATCH):
        with runtime.db.unit_of_work() as s:
            for n in range(start, min(start + BATCH, args.events)):
                enqueue(s, "bench.noop", {"event": "Submitted", "case_id": app_ids[n % len(app_ids)], "n": n})
    reference = time.perf_counter() - started
    with runtime.db.unit_of_work() as s:
        s.execute(Job.__table__.delete().where(Job.name == "bench.noop"))

    # the events: history entries and their outbox jobs as steps write them (bulk, outside the timing)
    now = utcnow()
    with runtime.db.unit_of_work() as s:
        seq0 = 100
        rows = [
            {**base, "id": new_id(), "application_id": app_ids[n % len(app_ids)], "seq": seq0 + n // len(app_ids), "at": now}
            for n in range(args.events)
        ]
        jobs = [
            {
                "name": "notifications.step",
                "payload": {"case_id": r["application_id"], "seq": r["seq"]},
                "dedupe_key": f"notify-step:{r['application_id']}:{r['seq']}",
                "status": "pending",
                "attempts": 0,
                "max_attempts": 8,
                "run_after": now,
                "created_at": now,
            }
            for r in rows
        ]
        for start in range(0, len(rows), 2000):
            s.execute(insert(HistoryEntry), rows[start : start + 2000])
            s.execute(insert(Job), jobs[start : start + 2000])

    started = time.perf_counter()
    read = Worker(runtime.db, batch=20).run_until_idle(max_rounds=10**9)
    queued_seconds = time.perf_counter() - started
    with runtime.db.unit_of_work() as s:
        s.execute(Job.__table__.update().where(Job.name == "notifications.send").values(run_after=utcnow()))
    with runtime.db.unit_of_work() as s:
        messages = s.scalar(select(func.count()).select_from(Notification).where(Notification.created_at >= now))
        sms = s.scalar(select(func.count()).select_from(Notification).where(Notification.channel == "sms"))

    started = time.perf_counter()
    worker = Worker(runtime.db, batch=20)
    handed = worker.run_until_idle(max_rounds=10**9)
    handed_seconds = time.perf_counter() - started
    with runtime.db.unit_of_work() as s:
        sending = s.scalar(select(func.count()).select_from(Notification).where(Notification.status == "sending"))

    n = args.events
    print(f"engine: {args.db}; events: {n}; step jobs run: {read}")
    print(f"reference  plain outbox inserts: {n} rows in {reference:.2f} s = {n / reference:,.0f} rows/s")
    print(
        f"queued     step jobs -> messages: {messages} messages ({sms} SMS + portal) for {n} events in {queued_seconds:.2f} s"
        f" = {n / queued_seconds:,.0f} events/s, {messages / queued_seconds:,.0f} messages/s"
        f" ({(n / queued_seconds) / (n / reference):.2f}x the reference's rows/s)"
    )
    print(
        f"handed     send jobs -> provider fake over HTTP: {handed} jobs, {sending} SMS accepted, {Fake.received} requests"
        f" in {handed_seconds:.2f} s = {sending / handed_seconds:,.0f} SMS/s"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
