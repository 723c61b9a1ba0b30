"""Registers without gaps: application, demand and receipt numbers, on a database of their own with
real commits.

A submission or a receipt that rolls back gives its number back, so the next one follows the last
committed; 50 submissions to one service of one local body at once get 50 consecutive application
numbers (and demand numbers), and 50 counter payments at once 50 consecutive receipt numbers.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.payments import counter
from nagara.payments.models import Demand
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from tests.conftest import FAST_ARGON2, PACKS, DatabaseFactory, make_citizen, make_officer
from tests.conftest import test_settings as settings_for
from tests.payments.conftest import FEE, HERE, SERVICE

BODY = "kl.tvm-corp"
PARALLEL = 50
T = TypeVar("T")


class Rollback(Exception):
    pass


@dataclass
class Registers:
    rt: Runtime
    citizen: User
    clerk: User

    def principal(self, s: Session, user: User) -> Principal:
        return identity.load_principal(s, s.get(User, user.id), "bearer")  # type: ignore[arg-type]

    def submit(self, s: Session) -> tuple[str, str]:
        """Submit an application with a fee: its number and its demand's."""
        app = applications.create(
            s,
            self.principal(s, self.citizen),
            tenant=BODY,
            service_code=SERVICE,
            data={"applicant_name": "Lakshmi", "copies": 1},
            submit=True,
        )
        demand = s.scalar(select(Demand.number).where(Demand.application_id == app.id))
        assert demand is not None
        return app.number, demand

    def pay(self, s: Session, demand: str) -> str:
        """Cash at the counter: the receipt's number."""
        clerk = self.principal(s, self.clerk)
        return counter.counter_payment(s, clerk, demand, method="cash", amount=FEE, instrument=None, idempotency_key=None).number


@pytest.fixture(scope="module")
def registers(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registers]:
    packs = tmp_path_factory.mktemp("packs")
    shutil.copytree(PACKS / "kl", packs / "kl")
    shutil.copy(HERE / "paid-certificate.yaml", packs / "kl" / "services")
    rt = build_runtime(settings_for(db_factory.new_url(), tmp_path_factory.mktemp("var")), hasher=FAST_ARGON2)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(packs / "kl"))
        citizen = make_citizen(s, rt, "kl", "9847000301")
        clerk = make_officer(s, "registers.clerk", "counter_clerk", "kl", BODY)
    yield Registers(rt, citizen, clerk)
    rt.db.dispose()


def seq(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def prefix(number: str) -> str:
    return number.rsplit("-", 1)[0]


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads started together; every one must succeed."""
    results: list[T] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            result = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                failures.append(exc)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    return results


def test_a_rolled_back_submission_and_receipt_leave_no_gap(registers: Registers) -> None:
    db = registers.rt.db
    with db.unit_of_work() as s:
        app, demand = registers.submit(s)
    with pytest.raises(Rollback), db.unit_of_work() as s:
        lost_app, lost_demand = registers.submit(s)
        assert (seq(lost_app), seq(lost_demand)) == (seq(app) + 1, seq(demand) + 1)
        raise Rollback  # the submission fails after its numbers were taken
    with db.unit_of_work() as s:
        next_app, next_demand = registers.submit(s)
    assert (prefix(next_app), seq(next_app)) == (prefix(app), seq(app) + 1)
    assert (prefix(next_demand), seq(next_demand)) == (prefix(demand), seq(demand) + 1)

    with db.unit_of_work() as s:
        receipt = registers.pay(s, demand)
    with pytest.raises(Rollback), db.unit_of_work() as s:
        assert seq(registers.pay(s, next_demand)) == seq(receipt) + 1
        raise Rollback  # the counter payment fails after its receipt was numbered
    with db.unit_of_work() as s:
        next_receipt = registers.pay(s, next_demand)
    assert (prefix(next_receipt), seq(next_receipt)) == (prefix(receipt), seq(receipt) + 1)


def test_parallel_submissions_and_counter_receipts_get_consecutive_numbers(registers: Registers) -> None:
    db = registers.rt.db
    with db.unit_of_work() as s:
        app, demand = registers.submit(s)
        receipt = registers.pay(s, demand)

    def submit(_: int) -> tuple[str, str]:
        with db.unit_of_work() as s:
            return registers.submit(s)

    submitted = in_parallel(PARALLEL, submit)
    apps, demands = sorted(a for a, _ in submitted), sorted(d for _, d in submitted)
    assert {prefix(a) for a in apps} == {prefix(app)}
    assert [seq(a) for a in apps] == list(range(seq(app) + 1, seq(app) + 1 + PARALLEL))
    assert [seq(d) for d in demands] == list(range(seq(demand) + 1, seq(demand) + 1 + PARALLEL))

    def pay(i: int) -> str:
        with db.unit_of_work() as s:
            return registers.pay(s, demands[i])

    receipts = sorted(in_parallel(PARALLEL, pay))
    assert {prefix(r) for r in receipts} == {prefix(receipt)}
    assert [seq(r) for r in receipts] == list(range(seq(receipt) + 1, seq(receipt) + 1 + PARALLEL))
