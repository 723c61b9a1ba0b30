"""No success is lost and none is counted twice when the server is killed between a callback and its commit.

``nagara serve`` and ``nagara worker`` run as child processes on a database of their own. A
citizen pays on the local gateway's hosted page; the gateway's first callback reaches the server
while the test holds the lock the settlement needs (PostgreSQL: the demand's row, ``FOR UPDATE``;
SQLite: the database's write lock), so the server is inside the callback's transaction, before
its commit, when it is killed with SIGKILL. Then the lock is released and the server restarted:

- the gateway's retry (the queued callback job, delivered by the worker) settles the payment;
- with the callback lost as well, the scheduled reconciliation settles it by asking the gateway;

and in both cases exactly once: one succeeded payment, one receipt, one voucher, one ledger entry,
the demand paid and the application's fee marked paid once; a further callback is a duplicate.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, delete, func, select, text

from nagara.applications.models import Application
from nagara.identity import service as identity
from nagara.kit.settings import Settings
from nagara.ledger.models import LogEntry, PendingEntry
from nagara.payments.gateways import LocalGateway, local_secret
from nagara.payments.models import Demand, JournalEntry, LocalGatewayOrder, Payment, Receipt
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.models import Job
from nagara.workflow.models import HistoryEntry
from tests.conftest import PACKS, DatabaseFactory, backend, make_citizen
from tests.ledger.child import Child, child_env, free_port, start_server, start_worker
from tests.payments.conftest import HERE, SERVICE

TENANT = "kl.tvm-corp"


def prepare(db_factory: DatabaseFactory, tmp_path: Path, port: int) -> tuple[Runtime, dict[str, str]]:
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    shutil.copy(HERE / "paid-certificate.yaml", packs / "kl" / "services")
    settings = Settings(
        env="test",
        database_url=db_factory.new_url(),
        var_dir=tmp_path / "var",
        packs_dir=packs,
        worker_embedded=False,
        base_url=f"http://127.0.0.1:{port}",
    )
    rt = build_runtime(settings)
    with rt.db.unit_of_work() as s:
        for directory in discover(packs):
            load_pack(s, read_pack(directory))
    env = child_env(
        {
            "env": "test",
            "database_url": settings.database_url,
            "var_dir": str(settings.var_dir),
            "packs_dir": str(packs),
            "base_url": settings.base_url,
            "worker_embedded": "false",
            "worker_poll_seconds": "0.05",
            "payments_reconcile_after_seconds": "0",
            "log_level": "WARNING",
            "log_json": "false",
        }
    )
    return rt, env


@contextmanager
def holding_the_settlement_lock(rt: Runtime, demand_id: str) -> Iterator[None]:
    """Hold what settling this demand needs, from a connection of the test's own."""
    url = rt.settings.database_url
    if backend() == "postgresql":
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM payments_demands WHERE id = :id FOR UPDATE"), {"id": demand_id})
            yield
        engine.dispose()
    else:
        engine = create_engine(url, connect_args={"isolation_level": None, "check_same_thread": False})
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                conn.exec_driver_sql("ROLLBACK")
        engine.dispose()


def server_waits_on_a_lock(rt: Runtime) -> bool:
    if backend() != "postgresql":
        return True  # SQLite shows no waiters; the callback thread still waiting is the evidence
    with rt.db.engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%payments_demands%'")
            ).scalar()
        )


class Scenario:
    def __init__(self, rt: Runtime, env: dict[str, str], logs: Path, port: int, token: str) -> None:
        self.rt, self.env, self.logs, self.port, self.token = rt, env, logs, port, token
        self.base = f"http://127.0.0.1:{port}"
        self.server: Child | None = None
        self.worker: Child | None = None
        self.starts = 0
        self.gateway = LocalGateway(local_secret(rt.settings), self.base)

    def start_server(self) -> None:
        self.starts += 1
        self.server = start_server(self.env, self.port, self.logs / f"server-{self.starts}.log")

    def start_worker(self) -> None:
        self.starts += 1
        self.worker = start_worker(self.env, self.logs / f"worker-{self.starts}.log")

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.kill()

    def paid_at_the_gateway(self, http: httpx.Client) -> dict[str, Any]:
        """Apply, open a payment, pay on the hosted page; the gateway has the money and has queued its callback."""
        headers = {"Authorization": f"Bearer {self.token}"}
        form = {"applicant_name": "Lakshmi", "copies": 1}
        app = http.post(
            f"/api/v1/tenants/{TENANT}/applications", json={"service": SERVICE, "data": form, "submit": True}, headers=headers
        )
        assert app.status_code == 201, app.text
        (demand,) = http.get("/api/v1/demands", params={"application": app.json()["number"]}, headers=headers).json()
        payment = http.post(
            f"/api/v1/demands/{demand['number']}/payments", json={}, headers={**headers, "Idempotency-Key": app.json()["number"]}
        )
        assert payment.status_code == 201, payment.text
        paid = http.post(
            f"/gateway/local/pay/{payment.json()['gateway_order_id']}", data={"outcome": "paid"}, follow_redirects=False
        )
        assert paid.status_code == 303
        return {"application": app.json()["number"], "payment": payment.json()}

    def kill_the_server_inside_the_callback(self, payment: dict[str, Any]) -> None:
        """The gateway's first delivery reaches the server, which is SIGKILLed before it can commit."""
        with self.rt.db.unit_of_work(readonly=True) as s:
            order = s.get(LocalGatewayOrder, payment["gateway_order_id"])
            demand_id = s.scalar(select(Payment.demand_id).where(Payment.id == payment["id"]))
            assert order is not None and demand_id is not None
            body = self.gateway.callback_body(order)
        answers: list[Any] = []

        def deliver() -> None:
            try:
                answers.append(self.gateway.post_callback(f"{self.base}/api/v1/payments/callback/local", body))
            except (httpx.HTTPError, RuntimeError) as exc:
                answers.append(exc)

        with holding_the_settlement_lock(self.rt, demand_id):
            thread = threading.Thread(target=deliver)
            thread.start()
            deadline = time.monotonic() + 20
            time.sleep(0.5)
            while not server_waits_on_a_lock(self.rt):
                assert time.monotonic() < deadline, "the server never reached the settlement"
                time.sleep(0.05)
            assert thread.is_alive() and not answers, f"the callback finished while the lock was held: {answers}"
            assert self.server is not None
            self.server.kill()
            thread.join(timeout=30)
        assert answers and isinstance(answers[0], httpx.TransportError), answers  # the gateway saw no answer
        self.assert_unsettled(payment["id"])

    def assert_unsettled(self, payment_id: str) -> None:
        with self.rt.db.unit_of_work(readonly=True) as s:
            payment = s.get(Payment, payment_id)
            assert payment is not None and payment.status == "created"
            assert s.scalar(select(func.count()).select_from(Receipt).where(Receipt.payment_id == payment_id)) == 0

    def wait_settled(self, payment_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.rt.db.unit_of_work(readonly=True) as s:
                payment = s.get(Payment, payment_id)
                if payment is not None and payment.status == "succeeded":
                    return
            assert self.worker is not None and self.worker.alive(), self.worker.tail() if self.worker else "no worker"
            assert time.monotonic() < deadline, f"payment {payment_id} not settled after {timeout} s:\n{self.worker.tail()}"
            time.sleep(0.1)

    def assert_settled_exactly_once(self, application: str, payment_id: str, http: httpx.Client) -> None:
        with self.rt.db.unit_of_work(readonly=True) as s:
            payment = s.get(Payment, payment_id)
            assert payment is not None and payment.status == "succeeded" and payment.outcome == "applied"
            demand = s.get(Demand, payment.demand_id)
            assert demand is not None and demand.status == "paid" and demand.paid_amount == payment.amount
            receipts = list(s.scalars(select(Receipt).where(Receipt.demand_id == demand.id)))
            assert len(receipts) == 1 and receipts[0].amount == payment.amount
            assert s.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.source_id == receipts[0].id)) == 1
            in_ledger = [
                s.scalar(
                    select(func.count())
                    .select_from(PendingEntry)
                    .where(PendingEntry.type == "payment.received", PendingEntry.subject == demand.number)
                ),
                s.scalar(
                    select(func.count())
                    .select_from(LogEntry)
                    .where(LogEntry.type == "payment.received", LogEntry.subject == demand.number)
                ),
            ]
            assert sum(n or 0 for n in in_ledger) == 1  # pending, or already integrated by the worker
            app = s.scalar(select(Application).where(Application.number == application))
            assert app is not None and app.fee_paid
            steps = s.scalars(select(HistoryEntry.action).where(HistoryEntry.application_id == app.id)).all()
            assert list(steps).count("fee_paid") == 1
            order = s.get(LocalGatewayOrder, payment.gateway_order_id)
            assert order is not None
            body = self.gateway.callback_body(order)
        again = self.gateway.post_callback(f"{self.base}/api/v1/payments/callback/local", body)
        assert again == 200
        with self.rt.db.unit_of_work(readonly=True) as s:
            assert s.scalar(select(func.count()).select_from(Receipt).where(Receipt.payment_id == payment_id)) == 1


def test_a_kill_between_callback_and_commit_is_settled_exactly_once(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    port = free_port()
    rt, env = prepare(db_factory, tmp_path, port)
    with rt.db.unit_of_work() as s:
        token = identity.issue_token(s, make_citizen(s, rt, "kl", "9847000001"), "bearer")
    scenario = Scenario(rt, env, tmp_path, port, token)
    try:
        scenario.start_server()
        with httpx.Client(base_url=scenario.base, timeout=30) as http:
            # 1. The gateway retries: its queued callback is delivered by the worker after the restart.
            retried = scenario.paid_at_the_gateway(http)
            scenario.kill_the_server_inside_the_callback(retried["payment"])
            scenario.start_server()
            scenario.start_worker()
            scenario.wait_settled(retried["payment"]["id"])
            scenario.stop_worker()
            scenario.assert_settled_exactly_once(retried["application"], retried["payment"]["id"], http)

            # 2. The callbacks are lost as well: reconciliation asks the gateway and settles it.
            lost = scenario.paid_at_the_gateway(http)
            with rt.db.unit_of_work() as s:
                s.execute(delete(Job).where(Job.name == "payments.local_gateway_callback", Job.status == "pending"))
            scenario.kill_the_server_inside_the_callback(lost["payment"])
            scenario.start_server()
            scenario.start_worker()  # runs the scheduled payments.reconcile at once
            scenario.wait_settled(lost["payment"]["id"])
            scenario.assert_settled_exactly_once(lost["application"], lost["payment"]["id"], http)
            with rt.db.unit_of_work(readonly=True) as s:
                assert s.scalar(select(func.count()).select_from(Receipt)) == 2
    finally:
        for child in (scenario.server, scenario.worker):
            if child is not None:
                child.kill()
        rt.db.dispose()
