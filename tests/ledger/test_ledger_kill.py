"""Crash safety: appenders and the integrator killed at random moments lose nothing acknowledged and never fork the log."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from nagara.ledger import checkpoint, merkle, service, tiles
from nagara.ledger.models import LogEntry, PendingEntry
from nagara.runtime import Runtime
from tests.conftest import ROOT
from tests.ledger.helpers import ORIGIN, checkpoints, integrate_all, log_vkey


class Child:
    def __init__(self, rt: Runtime, mode: str, prefix: str, out: Path) -> None:
        self.out, self.err = out, out.with_suffix(".err")
        with out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.ledger.child", rt.settings.database_url, str(rt.settings.var_dir), mode, prefix],
                cwd=ROOT,
                stdout=stdout,
                stderr=stderr,
            )

    def wait_working(self, timeout: float = 120) -> None:
        """Wait until it has acknowledged something, so every kill interrupts real work."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.out.read_bytes():
            assert self.proc.poll() is None, f"child died: {self.err.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "child did nothing"
            time.sleep(0.02)

    def kill(self) -> list[str]:
        """SIGKILL; return the lines it completed (acknowledged) before dying."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return self.out.read_text().split("\n")[:-1]  # a last line without its newline was never acknowledged


def test_killing_appenders_and_the_integrator_loses_no_acknowledged_entry(committed: Runtime, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    sys.stdout.write(f"kill schedule seed: {seed}\n")  # shown if the test fails, to replay the schedule
    rng = random.Random(seed)
    counter = itertools.count()

    def start(mode: str) -> Child:
        n = next(counter)
        return Child(committed, mode, f"K{n}", tmp_path / f"{mode}-{n}.out")

    acknowledged: list[str] = []
    appenders = [start("append"), start("append")]
    integrating = start("integrate")
    kills = 0
    try:
        for child in [*appenders, integrating]:
            child.wait_working()
        for _ in range(6):
            time.sleep(rng.uniform(0.05, 0.6))
            victim = rng.choice(["appender", "integrator", "both"])
            if victim in ("appender", "both"):
                i = rng.randrange(len(appenders))
                acknowledged += appenders[i].kill()
                appenders[i] = start("append")
                appenders[i].wait_working()
                kills += 1
            if victim in ("integrator", "both"):
                integrating.kill()
                integrating = start("integrate")
                integrating.wait_working()
                kills += 1
    finally:
        for child in [*appenders, integrating]:
            lines = child.kill()
            if child is not integrating:
                acknowledged += lines
    assert kills >= 6
    assert len(acknowledged) > 20, "the appenders acknowledged too little to test anything"

    # What the killed integrators published, before the restart finishes the work.
    published = checkpoints(committed)
    assert len(published) > 1, "the killed integrators published nothing"
    size = integrate_all(committed)
    with committed.db.unit_of_work(readonly=True) as s:
        found = dict(s.execute(select(LogEntry.subject, LogEntry.idx).where(LogEntry.subject.in_(acknowledged))).all())
        total, top = s.execute(select(func.count(), func.max(LogEntry.idx))).one()
        assert s.scalar(select(func.count()).select_from(PendingEntry)) == 0
        missing = sorted(set(acknowledged) - set(found))
        assert not missing, f"{len(missing)} acknowledged entries are not in the log: {missing[:5]}"
        assert total == size == top + 1  # consecutive indexes, none lost or repeated

        verifier = checkpoint.load_verifier(log_vkey(committed))
        signed = checkpoints(committed)
        assert [c.size for c in signed[: len(published)]] == [c.size for c in published]
        assert all(older.size < newer.size for older, newer in itertools.pairwise(signed))
        # Every checkpoint ever signed is a prefix of the one final tree: each is consistent with all before it.
        memory = merkle.MemoryHashStore()
        for n in range(-(-size // tiles.TILE_WIDTH)):
            width = tiles.tile_width(0, n, size)
            bundle = service.read_tile(s, committed.settings, tiles.Tile(tiles.ENTRIES_LEVEL, n, width))
            assert bundle is not None
            memory.append([merkle.leaf_hash(e) for e in tiles.decode_entry_bundle(bundle, width)])
        for cp in signed:
            body, _ = checkpoint.open_checkpoint(cp.note, [verifier], origin=ORIGIN)
            assert (body.size, body.root_hash) == (cp.size, cp.root_hash) == (cp.size, memory.root(cp.size))
        # And the proofs the node serves say so, for a sample of pairs.
        for _ in range(40):
            older, newer = sorted(rng.sample(signed, 2), key=lambda c: c.size)
            if older.size:
                proof = service.consistency_proof(s, committed.settings, older.size, newer.size)
                merkle.verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
