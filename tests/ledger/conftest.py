"""Fixtures for the ledger's tests: the shared rolled-back runtime with a fixed origin, and databases of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nagara.kit.settings import Settings
from nagara.runtime import Runtime, build_runtime
from tests.conftest import DatabaseFactory
from tests.ledger.helpers import ORIGIN


@pytest.fixture
def ledger(runtime: Runtime) -> Runtime:
    """The test's rolled-back runtime, serving the log ``ORIGIN`` (development key under its var_dir)."""
    runtime.settings.ledger_origin = ORIGIN
    return runtime


@pytest.fixture
def committed(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Runtime]:
    """A database of its own whose commits are real (for other processes and servers)."""
    rt = build_runtime(
        Settings(env="test", database_url=db_factory.new_url(), var_dir=tmp_path, worker_embedded=False, ledger_origin=ORIGIN)
    )
    yield rt
    rt.db.dispose()
