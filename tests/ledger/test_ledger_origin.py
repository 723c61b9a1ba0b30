"""Whose log a record is signed into: never another state's."""

from __future__ import annotations

from pathlib import Path

import pytest

from nagara.demo import DEMO_LEDGER_ORIGIN, demo_ledger_origin
from nagara.ledger import integrator, keys
from nagara.ledger.cli import pair_environments
from nagara.ledger.models import SignedCheckpoint
from nagara.ledger.service import append
from nagara.runtime import Runtime
from nagara.tenancy.packs import discover
from tests.conftest import PACKS


def test_a_node_holding_states_with_different_logs_signs_into_neither_unless_told(runtime: Runtime) -> None:
    # The test database holds the packs of Kerala, Karnataka and Jammu and Kashmir, whose pack.yaml name different logs.
    assert runtime.settings.ledger_origin == ""
    with runtime.db.unit_of_work() as session:
        assert keys.states_origins(session) == {
            "jk": "ledger.jk.example.gov.in/v1",
            "ka": "ledger.ka.example.gov.in/v1",
            "kl": "ledger.kl.example.gov.in/v1",
        }
        append(session, type="certificate.issued", tenant_code="kl.tvm-corp", subject="KL-X-1", content={"a": 1}, actor_role=None)
    with runtime.db.unit_of_work() as session, pytest.raises(keys.LedgerMisconfigured) as refused:
        integrator.integrate(session, runtime.settings)
    assert "jk: ledger.jk.example.gov.in/v1, ka: ledger.ka.example.gov.in/v1, kl: ledger.kl.example.gov.in/v1" in str(
        refused.value
    )
    assert "NAGARA_LEDGER_ORIGIN" in str(refused.value)
    with runtime.db.unit_of_work(readonly=True) as session:
        assert session.query(SignedCheckpoint).count() == 0  # nothing signed in Karnataka's (or Kerala's) name


def test_the_one_node_demo_names_a_log_of_its_own(runtime: Runtime) -> None:
    with runtime.db.unit_of_work(readonly=True) as session:
        origin = demo_ledger_origin(session, runtime.settings)
    assert origin == DEMO_LEDGER_ORIGIN
    runtime.settings.ledger_origin = origin
    with runtime.db.unit_of_work() as session:
        append(session, type="certificate.issued", tenant_code="kl.tvm-corp", subject="KL-X-1", content={"a": 1}, actor_role=None)
    with runtime.db.unit_of_work() as session:
        result = integrator.integrate(session, runtime.settings)
    assert result.origin == DEMO_LEDGER_ORIGIN
    assert not any(result.origin == o for o in ("ledger.kl.example.gov.in/v1", "ledger.ka.example.gov.in/v1"))
    with runtime.db.unit_of_work(readonly=True) as session:
        assert demo_ledger_origin(session, runtime.settings) is None  # set, and the log now exists


def test_each_node_of_the_demo_pair_holds_only_its_own_state(tmp_path: Path) -> None:
    envs = pair_environments(tmp_path / "pair", PACKS, 8101)
    for state, env in envs.items():
        held = [p.name for p in discover(Path(env["NAGARA_PACKS_DIR"]))]
        assert held == [state]
        assert env["NAGARA_LEDGER_ORIGIN"] == f"ledger.{state}.example.gov.in/v1"
    assert pair_environments(tmp_path / "pair", PACKS, 8101) == envs  # again: the same, links kept
