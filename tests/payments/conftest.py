"""Payments test fixtures: a database of their own with the shipped packs plus a service with a fee
and no documents, a property register, a local gateway whose callbacks go to the test client, and
after every test a check that the journal balances (every voucher, and each day's trial balance).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from nagara.kit.db import make_engine
from nagara.payments import accounts
from nagara.payments.gateways import local_gateway
from nagara.payments.models import JournalEntry, JournalLine, Receipt
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.runner import Worker
from tests.conftest import PACKS, DatabaseFactory, People, test_settings

HERE = Path(__file__).parent
SERVICE = "paid-certificate"
FEE = 25000 + 1000  # the fixed fee and one copy


@pytest.fixture(scope="session")
def base_url(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = db_factory.new_url()
    packs = tmp_path_factory.mktemp("packs")
    for state in ("kl", "ka"):
        shutil.copytree(PACKS / state, packs / state)
    shutil.copy(HERE / "paid-certificate.yaml", packs / "kl" / "services")
    rt = build_runtime(test_settings(url, tmp_path_factory.mktemp("var")))
    with rt.db.unit_of_work() as session:
        for state in ("kl", "ka"):
            load_pack(session, read_pack(packs / state))
    rt.db.dispose()
    return url


@pytest.fixture(scope="session")
def engine(base_url: str) -> Iterator[Engine]:
    eng = make_engine(base_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def journal_balances(runtime: Runtime) -> Iterator[None]:
    """After every payments test: each voucher balances, each day's trial balance balances, receipts are journalled."""
    yield
    with runtime.db.unit_of_work(readonly=True) as s:
        assert accounts.unbalanced_entries(s) == []
        for body, day in s.execute(select(JournalEntry.local_body_code, JournalEntry.entry_date).distinct()).all():
            rows = accounts.trial_balance(s, body, day)
            assert sum(r.debit for r in rows) == sum(r.credit for r in rows), (body, day, rows)
        receipts = s.scalar(select(func.count()).select_from(Receipt)) or 0
        vouchers = s.scalar(select(func.count()).select_from(JournalEntry)) or 0
        assert receipts == vouchers, "every receipt and refund posts exactly one voucher"
        lines = s.scalar(select(func.count()).select_from(JournalLine)) or 0
        assert (vouchers == 0) == (lines == 0)


@dataclass
class Pay:
    """Steps of the payments tests, over the API."""

    client: TestClient
    people: People
    runtime: Runtime

    @property
    def body(self) -> str:
        return self.people.body_a

    def h(self, who: str, **extra: str) -> dict[str, str]:
        return {**self.people.headers(who), **extra}

    def apply(self, who: str = "citizen1", body: str | None = None, **form: Any) -> dict[str, Any]:
        data = {"applicant_name": "Lakshmi", "copies": 1, **form}
        response = self.client.post(
            f"/api/v1/tenants/{body or self.body}/applications",
            json={"service": SERVICE, "data": data, "submit": True},
            headers=self.h(who),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def application(self, number: str, who: str = "citizen1") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/applications/{number}", headers=self.h(who))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def demand_of(self, number: str, who: str = "citizen1") -> dict[str, Any]:
        response = self.client.get("/api/v1/demands", params={"application": number}, headers=self.h(who))
        assert response.status_code == 200, response.text
        (demand,) = response.json()
        return dict(demand)

    def demand(self, number: str, who: str = "citizen1") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/demands/{number}", headers=self.h(who))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start(self, demand: str, who: str = "citizen1", key: str | None = None, status: int = 201) -> dict[str, Any]:
        headers = self.h(who, **({"Idempotency-Key": key} if key else {}))
        response = self.client.post(f"/api/v1/demands/{demand}/payments", json={"method": "gateway"}, headers=headers)
        assert response.status_code == status, response.text
        return dict(response.json())

    def payment(self, payment_id: str, who: str = "citizen1") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/payments/{payment_id}", headers=self.h(who))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pay_at_gateway(self, payment: dict[str, Any], outcome: str = "paid") -> str:
        """The payer on the hosted page: returns where the browser is sent back to (the return URL)."""
        path = "/gateway/local/pay/" + payment["gateway_order_id"]
        assert self.client.get(path).status_code == 200
        response = self.client.post(path, data={"outcome": outcome, "method": "upi"}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    def browser_return(self, location: str) -> str:
        path = location.split("://", 1)[1].split("/", 1)[1]
        response = self.client.get("/" + path, follow_redirects=False)
        assert response.status_code == 303, response.text
        return str(response.headers["location"])

    def deliver_callbacks(self) -> int:
        """Let the worker deliver the gateway's queued callbacks (to this test client)."""
        return Worker(self.runtime.db).run_until_idle()

    def callback(self, body: dict[str, Any] | bytes, *, signature: str | None = None, at: int | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body, sort_keys=True).encode()
        sig = (
            signature
            if signature is not None
            else local_gateway(self.runtime).sign(raw, at=at if at is not None else int(time.time()))
        )
        return self.client.post(
            "/api/v1/payments/callback/local",
            content=raw,
            headers={"Content-Type": "application/json", "X-Local-Gateway-Signature": sig},
        )

    def counter(
        self, demand: str, amount: int, who: str = "a_counter_clerk", method: str = "cash", status: int = 201, **extra: Any
    ) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/demands/{demand}/counter-payments", json={"method": method, "amount": amount, **extra}, headers=self.h(who)
        )
        assert response.status_code == status, response.text
        return dict(response.json())


@pytest.fixture
def pay(client: TestClient, people: People, runtime: Runtime) -> Pay:
    local_gateway(runtime).http = client  # the gateway's callbacks reach this app in-process
    return Pay(client, people, runtime)
