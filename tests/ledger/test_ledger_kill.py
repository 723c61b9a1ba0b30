"""Crash safety through the API (issue 4): the server and the worker killed at random moments under load.

A database of its own with the shipped packs and a service without documents; a
citizen with a bearer token. ``nagara serve`` and ``nagara worker`` run as child
processes with one database and one var dir (so one ledger key). Client threads
submit applications over HTTP and record every number acknowledged with 201; a
poller collects each checkpoint the server publishes. Meanwhile the server, the
worker or both are killed with SIGKILL at random moments (half the worker's kills
aimed at the moment it holds an integration job) and restarted. After a last kill
under load and a final restart, the worker integrates everything; then:

- every acknowledged number has an integrated entry (an index) whose content is
  that application's ``submit`` action;
- the log has consecutive indexes and nothing pending, and verifies from outside
  with the one key both processes used (generated under their shared var dir);
- every checkpoint signed (the ones published by the API among them) is a prefix
  of the one final tree, and consistent with every later one.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from nagara.applications.models import Application
from nagara.identity import service as identity
from nagara.kit.settings import Settings
from nagara.ledger import checkpoint, client, merkle, note, tiles
from nagara.ledger import entry as entries
from nagara.ledger.models import LogEntry, PendingEntry, SignedCheckpoint
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.models import Job
from nagara.workflow.models import HistoryEntry
from tests.conftest import PACKS, ROOT, DatabaseFactory, make_citizen
from tests.ledger.child import Child, child_env, free_port, start_server, start_worker
from tests.ledger.helpers import ORIGIN, log_vkey

TENANT = "kl.tvm-corp"
SUBMISSION = {"service": "quick-certificate", "data": {"applicant_name": "L", "purpose": "education", "ward": 12}, "submit": True}
# Concurrent submitters, on both engines (SQLite writers of one process take turns: Runtime.writer_slot).
CLIENTS = 4
# Kill rounds: each way once (the server, the worker, both in either order), then two more at random.
VICTIMS = [["server"], ["worker"], ["server", "worker"], ["worker", "server"]]
RANDOM_ROUNDS = 2
ROUNDS_SECONDS = 40  # no random rounds after this long, however slow the machine
FINISH_SECONDS = 60  # for the final restart to integrate everything


def prepare(db_factory: DatabaseFactory, tmp_path: Path) -> tuple[Runtime, dict[str, str]]:
    """A migrated database of its own with the packs plus quick-certificate, a runtime on it, and the children's settings."""
    packs = tmp_path / "packs"
    shutil.copytree(PACKS, packs)
    shutil.copy(ROOT / "bench" / "packs" / "quick-certificate.yaml", packs / "kl" / "services")
    var_dir = tmp_path / "var"
    settings = Settings(
        env="test",
        database_url=db_factory.new_url(),
        var_dir=var_dir,
        packs_dir=packs,
        worker_embedded=False,
        ledger_origin=ORIGIN,
    )
    rt = build_runtime(settings)
    with rt.db.unit_of_work() as s:
        for directory in discover(packs):
            load_pack(s, read_pack(directory))
    env = child_env(
        {
            "env": "test",
            "database_url": settings.database_url,
            "var_dir": str(var_dir),  # both children: one development ledger key, under var_dir/ledger
            "packs_dir": str(packs),
            "ledger_origin": ORIGIN,
            "worker_embedded": "false",
            "worker_poll_seconds": "0.05",
            # Short integration runs (batches of 4, at most 10 ms before a checkpoint is signed and the
            # next run is queued at once): many checkpoints, and many transactions for a kill to cut.
            "ledger_batch_size": "4",
            "ledger_run_seconds": "0.01",
            "log_level": "WARNING",
            "log_json": "false",
        }
    )
    return rt, env


@dataclass
class Node:
    """The server and the worker, restarted on the same port, database and var dir."""

    rt: Runtime
    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    server: Child | None = None
    worker: Child | None = None
    started: Counter[str] = field(default_factory=Counter)
    killed: Counter[str] = field(default_factory=Counter)
    dead_workers: set[int] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_server(self) -> None:
        self.started["server"] += 1
        self.server = start_server(self.env, self.port, self.logs / f"server-{self.started['server']}.log")

    def start_worker(self, *, wait: bool = True) -> Child:
        """Start the worker; with ``wait``, until it has signed a checkpoint (so the next kill interrupts real work)."""
        before = self.signed_size()
        self.started["worker"] += 1
        self.worker = start_worker(self.env, self.logs / f"worker-{self.started['worker']}.log")
        if wait:
            self.worker.wait_for("integration", lambda: self.signed_size() > before)
        return self.worker

    def kill(self, victim: str) -> None:
        child = self.server if victim == "server" else self.worker
        if child is not None and child.alive():
            child.kill()
            self.killed[victim] += 1
            if victim == "worker":
                self.dead_workers.add(child.pid)

    def kill_worker_integrating(self, timeout: float = 3) -> None:
        """Kill the worker as soon as it holds a claimed ``ledger.integrate`` job (or after ``timeout``).

        Under this load an integration takes a small part of each second, so kills at uniformly
        random moments seldom land inside one; this aims at it.
        """
        assert self.worker is not None
        mine = f"%:{self.worker.pid}:%"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.rt.db.unit_of_work(readonly=True) as s:
                running = s.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.name == "ledger.integrate", Job.status == "running", Job.locked_by.like(mine))
                )
            if running:
                break
            time.sleep(0.002)
        self.kill("worker")

    def interrupted_integrations(self) -> int:
        """``ledger.integrate`` jobs claimed by a killed worker and never finished: integrations killed midway."""
        with self.rt.db.unit_of_work(readonly=True) as s:
            holders = s.scalars(select(Job.locked_by).where(Job.name == "ledger.integrate", Job.status == "running"))
            return sum(1 for holder in holders if holder and int(holder.split(":")[1]) in self.dead_workers)

    def kill_all(self) -> None:
        for child in (self.server, self.worker):
            if child is not None:
                child.kill()

    def signed_size(self) -> int:
        with self.rt.db.unit_of_work(readonly=True) as s:
            size = s.scalar(select(func.max(SignedCheckpoint.size)))
        return -1 if size is None else int(size)

    def integrated_everything(self) -> bool:
        with self.rt.db.unit_of_work(readonly=True) as s:
            pending = s.scalar(select(func.count()).select_from(PendingEntry))
            total = s.scalar(select(func.count()).select_from(LogEntry))
            size = s.scalar(select(func.max(SignedCheckpoint.size)))
        return pending == 0 and size == total


class Load:
    """Submitting threads that record every acknowledged number, and a poller of the published checkpoint."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.submitting, self.polling = threading.Event(), threading.Event()
        self.acknowledged: list[str] = []
        self.answers: Counter[int | str] = Counter()  # status codes, and "no answer" (refused, or cut by a kill)
        self.published: dict[str, None] = {}  # checkpoint notes in the order first seen
        self.failures: list[BaseException] = []
        self.submitters = [threading.Thread(target=self._guard, args=(self._submit,)) for _ in range(CLIENTS)]
        self.poller = threading.Thread(target=self._guard, args=(self._poll,))

    def start(self) -> None:
        self.submitting.set()
        self.polling.set()
        for thread in [*self.submitters, self.poller]:
            thread.start()

    def stop_submitting(self) -> None:
        self.submitting.clear()
        for thread in self.submitters:
            if thread.is_alive():
                thread.join(timeout=60)

    def stop(self) -> None:
        self.stop_submitting()
        self.polling.clear()
        if self.poller.is_alive():
            self.poller.join(timeout=60)
        assert not self.failures, f"a client thread failed: {self.failures[0]!r}"

    def _guard(self, target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by stop(), not lost in a thread
            self.failures.append(exc)

    def _submit(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as http:
            while self.submitting.is_set():
                try:
                    response = http.post(f"/api/v1/tenants/{TENANT}/applications", json=SUBMISSION)
                    number = response.json()["number"] if response.status_code == 201 else None
                except httpx.TransportError:  # killed before the whole answer arrived: not acknowledged
                    self.answers["no answer"] += 1
                    time.sleep(0.02)
                    continue
                self.answers[response.status_code] += 1
                if number is None:
                    time.sleep(0.02)
                else:
                    self.acknowledged.append(number)

    def _poll(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as http:
            while self.polling.is_set():
                try:
                    response = http.get("/ledger/checkpoint")
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    self.published.setdefault(response.text)
                time.sleep(0.03)

    def wait(self, what: str, done: Any, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert not self.failures, f"a client thread failed: {self.failures[0]!r}"
            assert time.monotonic() < deadline, f"no {what} after {timeout} s; answers {dict(self.answers)}"
            assert node.server is not None and node.server.alive(), f"the server died:\n{node.server and node.server.tail()}"
            time.sleep(0.05)


def test_killing_the_server_and_the_worker_loses_no_acknowledged_application(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    sys.stdout.write(f"kill schedule seed: {seed}\n")  # shown if the test fails, to replay the schedule
    rng = random.Random(seed)
    rt, env = prepare(db_factory, tmp_path)
    try:
        with rt.db.unit_of_work() as s:
            token = identity.issue_token(s, make_citizen(s, rt, "kl", "9847000001"), "bearer")
        node = Node(rt, env, tmp_path)
        load = Load(node.base, token)
        try:
            node.start_server()
            load.start()
            load.wait("acknowledgement", lambda: len(load.acknowledged) >= 10, node)
            node.start_worker()
            began = time.monotonic()
            # Every way of killing runs once whatever the machine's speed (the time bound cut them
            # short on a loaded machine, leaving too few kills to test); only the extra random
            # rounds stop once ROUNDS_SECONDS have passed.
            required = list(VICTIMS)
            rng.shuffle(required)
            extra = [rng.choice(VICTIMS) for _ in range(RANDOM_ROUNDS)]
            for i, victims in enumerate(required + extra):
                if i >= len(required) and time.monotonic() - began > ROUNDS_SECONDS:
                    break
                time.sleep(rng.uniform(0.1, 1.2))  # under load
                for victim in victims:
                    if victim == "worker" and rng.random() < 0.5:
                        node.kill_worker_integrating()
                    else:
                        node.kill(victim)
                time.sleep(rng.uniform(0, 0.3))  # the survivor, if any, carries on alone for a moment
                if "server" in victims:
                    node.start_server()
                    acknowledged = len(load.acknowledged)
                    load.wait("acknowledgement after a restart", lambda n=acknowledged: len(load.acknowledged) > n, node)
                if "worker" in victims:
                    node.start_worker()
            time.sleep(rng.uniform(0.1, 0.5))
            node.kill("server")  # a last kill of both, still under load
            node.kill("worker")
            load.stop_submitting()
            published_before_the_end = len(load.published)

            node.start_server()
            # Not waiting for a new checkpoint: the killed worker may have integrated everything already.
            node.start_worker(wait=False).wait_for("integration of everything", node.integrated_everything, FINISH_SECONDS)
            final_size = node.signed_size()
            load.wait("the final checkpoint published", lambda: f"\n{final_size}\n" in "".join(load.published), node)
            load.stop()
            interrupted = node.interrupted_integrations()
            signed = check_the_log(rt, node, load)
        finally:
            load.submitting.clear()
            load.polling.clear()
            node.kill_all()
            for thread in [*load.submitters, load.poller]:
                if thread.is_alive():
                    thread.join(timeout=60)
    finally:
        rt.db.dispose()
    sys.stdout.write(
        f"kills {dict(node.killed)}; acknowledged {len(load.acknowledged)}; answers {dict(load.answers)}; "
        f"integrations interrupted {interrupted}; checkpoints signed {signed}, {published_before_the_end} seen published "
        f"before the end; {final_size} entries\n"
    )
    assert node.killed["server"] >= 2 and node.killed["worker"] >= 2, f"too few kills to test anything: {dict(node.killed)}"
    assert len(load.acknowledged) > 50, "the server acknowledged too little to test anything"
    assert published_before_the_end > 1, "the killed workers published too little to test anything"


def check_the_log(rt: Runtime, node: Node, load: Load) -> int:
    """Check the log after the final integration; return how many checkpoints were signed."""
    acknowledged = load.acknowledged
    assert len(set(acknowledged)) == len(acknowledged), "a number was acknowledged twice"
    with httpx.Client(base_url=node.base, timeout=30) as http:
        vkey = http.get("/ledger/vkey").text.strip()
        assert vkey == log_vkey(rt)  # the key under the shared var dir, with which the worker signed
        verifier = checkpoint.load_verifier(vkey)
        # Checked from outside, as anyone can: signature, tiles, and the tree rebuilt from the entry bundles.
        report = client.verify_log(http, node.base, vkey=vkey, full=True)
        size = report.size
        served = client.LogClient(http, node.base)
        bodies: list[bytes] = []
        for n in range(-(-size // tiles.TILE_WIDTH)):
            width = tiles.tile_width(0, n, size)
            bodies += tiles.decode_entry_bundle(served.tile(tiles.Tile(tiles.ENTRIES_LEVEL, n, width)), width)
        memory = merkle.MemoryHashStore()
        memory.append([merkle.leaf_hash(b) for b in bodies])
        assert memory.root() == report.root_hash

        with rt.db.unit_of_work(readonly=True) as s:
            assert s.scalar(select(func.count()).select_from(PendingEntry)) == 0
            total, top = s.execute(select(func.count(), func.max(LogEntry.idx))).one()
            assert total == size == top + 1  # consecutive indexes, none lost or repeated
            indexes: dict[str, list[int]] = {}
            for subject, idx in s.execute(select(LogEntry.subject, LogEntry.idx).where(LogEntry.type == "application.action")):
                indexes.setdefault(subject, []).append(idx)
            submitted = {
                number: {
                    "seq": h.seq,
                    "action": h.action,
                    "from": h.from_state,
                    "to": h.to_state,
                    "at": h.at.astimezone(UTC).isoformat(),
                }
                for number, h in s.execute(
                    select(Application.number, HistoryEntry)
                    .join(HistoryEntry, HistoryEntry.application_id == Application.id)
                    .where(HistoryEntry.action == "submit")
                )
            }
            signed = list(s.scalars(select(SignedCheckpoint).order_by(SignedCheckpoint.size)))

    # Every acknowledged application: an integrated entry that is its submission (its content hash proves it).
    missing = [n for n in acknowledged if not any(submit_entry(rt, bodies[i], n, submitted.get(n)) for i in indexes.get(n, []))]
    assert not missing, (
        f"{len(missing)} of {len(acknowledged)} acknowledged applications have no integrated submit entry: {missing[:5]}"
    )

    # Every checkpoint signed is the one tree at its size: so each is consistent with every later one.
    notes = {cp.size: cp.note for cp in signed}
    assert signed[-1].size == size
    for cp in signed:
        body, _ = checkpoint.open_checkpoint(cp.note, [verifier], origin=ORIGIN)
        assert (body.size, body.root_hash) == (cp.size, cp.root_hash) == (cp.size, memory.root(cp.size))
    for text in load.published:  # what the API served while processes were being killed
        body, _ = checkpoint.open_checkpoint(text, [verifier], origin=ORIGIN)
        assert notes.get(body.size) == text, f"a published checkpoint of size {body.size} is not among the signed ones"
    for older, newer in itertools.combinations(signed, 2):
        if older.size:
            merkle.verify_consistency(
                older.size, newer.size, memory.consistency_proof(older.size, newer.size), older.root_hash, newer.root_hash
            )
    # And the proofs the restarted node serves say so, from each checkpoint to the next.
    with httpx.Client(base_url=node.base, timeout=30) as http:
        for older, newer in itertools.pairwise(signed):
            if older.size:
                answer = http.get("/ledger/proof/consistency", params={"from": older.size, "to": newer.size})
                assert answer.status_code == 200, answer.text
                proof = [note.b64decode(h) for h in answer.json()["hashes"]]
                merkle.verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)
    return len(signed)


def submit_entry(rt: Runtime, body: bytes, number: str, content: dict[str, Any] | None) -> bool:
    """Whether the entry ``body`` records the submission of application ``number`` (whose submit step is ``content``)."""
    entry = entries.parse_entry(body)
    if content is None or entry.subject != number or entry.type != "application.action":
        return False
    return entries.verify_content(entry, content, entries.entry_salt(rt.secret, entry.salt_id))
