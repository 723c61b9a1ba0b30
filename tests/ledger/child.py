"""The kill test's child processes: ``python -m nagara serve`` and ``python -m nagara worker``.

Both run with the same settings, given as ``NAGARA_*`` variables as in production:
one database, one var dir (so one development ledger key, generated under it by
whichever process needs it first), one packs dir and one ledger origin; the server
does not run the worker (``NAGARA_WORKER_EMBEDDED=false``). Each child writes its
output to a log file in the test's tmp dir, shown when it fails to start. A child is
stopped only with SIGKILL: the test is about processes that die without warning.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ROOT

START_SECONDS = 60  # generous: a child imports the whole application, slowly on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(settings: dict[str, str]) -> dict[str, str]:
    """This environment without any ``NAGARA_*`` variable (a stray one is an error), plus ``settings``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")}
    return {**inherited, **{f"NAGARA_{k.upper()}": v for k, v in settings.items()}}


class Child:
    """One ``python -m nagara ...`` process."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.log = log
        self.port = port  # a server's: after a kill nothing may answer on it
        with log.open("wb") as out:
            # A session of its own, so that a kill reaches the whole group: ``nagara serve`` on
            # PostgreSQL runs a process per core, and killing only the parent left its workers
            # serving (and orphaned after the test).
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nagara", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float = START_SECONDS) -> None:
        """Poll ``done`` until it is true; fail if the child dies or the time runs out."""
        deadline = time.monotonic() + timeout
        while not done():
            assert self.alive(), f"{self.log.name} died before {what}:\n{self.tail()}"
            assert time.monotonic() < deadline, f"{self.log.name}: no {what} after {timeout} s:\n{self.tail()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the process and every process it started (no clean-up of any kind), then reap it."""
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.proc.pid, signal.SIGKILL)  # its session's group: the server's worker processes too
        self.proc.wait(timeout=30)
        if self.port is not None:
            self.wait_until_closed(self.port)

    def wait_until_closed(self, port: int, timeout: float = 10) -> None:
        """A killed server's port stops answering (its worker processes died with it)."""
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return
            assert time.monotonic() < deadline, f"{self.log.name}: port {port} still answers after the kill"
            time.sleep(0.05)


def start_server(env: dict[str, str], port: int, log: Path) -> Child:
    """``nagara serve`` on the loopback ``port``; returns once ``/readyz`` answers 200."""
    server = Child(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log, port=port)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        server.wait_for("readiness", ready)
    except BaseException:
        server.kill()
        raise
    return server


def start_worker(env: dict[str, str], log: Path) -> Child:
    """``nagara worker``: runs the scheduled ``ledger.integrate`` job."""
    return Child(["worker"], env, log)
