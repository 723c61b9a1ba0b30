"""Register numbers: the printed form, and numbers taken in the writing transaction without gaps."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from nagara.kit import numbers
from nagara.kit.db import Database, make_engine
from nagara.runtime import Runtime
from tests.conftest import DatabaseFactory


class Rollback(Exception):
    pass


def test_the_printed_form_is_state_body_kind_period_and_six_digits() -> None:
    assert numbers.register_prefix("kl.tvm-corp", "BR", 2026) == "KL-TVMCORP-BR-2026"
    assert numbers.register_prefix("kl.thiruvananthapuram-corp", "R", "2026-27") == "KL-THIRUVANAN-R-2026-27"
    assert numbers.register_number("KL-TVMCORP-BR-2026", 42) == "KL-TVMCORP-BR-2026-000042"
    assert numbers.register_number("KA-BBMP-TL-2026", 1_234_567) == "KA-BBMP-TL-2026-1234567"


def test_numbers_follow_on_and_a_block_takes_its_count(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        assert [numbers.take(s, "TEST-BLOCK") for _ in range(2)] == [1, 2]
        assert numbers.take(s, "TEST-BLOCK", 3) == 3  # 3, 4 and 5
        assert numbers.take(s, "TEST-BLOCK") == 6
        assert numbers.take(s, "TEST-OTHER") == 1
        assert numbers.next_number(s, "kl.tvm-corp", "X", 2026) == "KL-TVMCORP-X-2026-000001"
        with pytest.raises(ValueError, match="at least one"):
            numbers.take(s, "TEST-BLOCK", 0)


def test_a_rolled_back_transaction_gives_its_number_back(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        last = numbers.take(s, "TEST-ROLLBACK")
    with pytest.raises(Rollback), runtime.db.unit_of_work() as s:
        assert numbers.take(s, "TEST-ROLLBACK", 5) == last + 1
        raise Rollback
    with runtime.db.unit_of_work() as s:
        assert numbers.take(s, "TEST-ROLLBACK") == last + 1


@pytest.fixture
def own_db(db_factory: DatabaseFactory) -> Iterator[Database]:
    db = Database(make_engine(db_factory.new_url()))
    yield db
    db.dispose()


def test_parallel_writers_that_commit_get_consecutive_numbers_whatever_the_others_do(own_db: Database) -> None:
    """50 transactions at once, every fifth rolled back after taking its number: the committed run 1..40."""
    committed: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def write(i: int) -> None:
        try:
            start.wait()
            with own_db.unit_of_work() as s:
                n = numbers.take(s, "TEST-PARALLEL")
                if i % 5 == 0:
                    raise Rollback
            with lock:
                committed.append(n)
        except Rollback:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(committed) == list(range(1, 41))
