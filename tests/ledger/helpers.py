"""Helpers for the ledger's database, HTTP and process tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from sqlalchemy import insert, select

from nagara.kit.db import try_single_runner, utcnow
from nagara.ledger import entry as entries
from nagara.ledger import integrator, keys, service
from nagara.ledger.integrator import Integration
from nagara.ledger.models import PendingEntry, SignedCheckpoint
from nagara.runtime import Runtime

ORIGIN = "ledger.test.example.gov.in/v1"


def append_entries(rt: Runtime, n: int, prefix: str = "T", *, per_transaction: int = 100) -> list[str]:
    """Append ``n`` entries (subjects ``<prefix>-<i>``) in units of work of ``per_transaction``; return the subjects."""
    subjects: list[str] = []
    while len(subjects) < n:
        with rt.db.unit_of_work() as session:
            for _ in range(min(per_transaction, n - len(subjects))):
                subject = f"{prefix}-{len(subjects)}"
                service.append(
                    session,
                    type="application.action",
                    tenant_code="kl.tvm-corp",
                    subject=subject,
                    content={"n": len(subjects), "action": "forward"},
                    actor_role="section_clerk",
                )
                subjects.append(subject)
    return subjects


def bulk_pending(rt: Runtime, n: int, prefix: str = "B") -> list[str]:
    """Write ``n`` well-formed pending entries with one multi-row insert (for large trees in tests)."""
    now = utcnow()
    rows = []
    for i in range(n):
        salt_id = entries.new_salt_id()
        body = entries.format_entry(
            type="certificate.issued",
            tenant="kl.tvm-corp",
            subject=f"{prefix}-{i}",
            content_hash=entries.content_hash(entries.entry_salt(rt.secret, salt_id), {"i": i}),
            salt_id=salt_id,
            actor_role="secretary",
            time=now,
        ).to_bytes()
        rows.append(
            {
                "type": "certificate.issued",
                "tenant_code": "kl.tvm-corp",
                "subject": f"{prefix}-{i}",
                "body": body,
                "created_at": now,
            }
        )
    with rt.db.unit_of_work() as session:
        session.execute(insert(PendingEntry), rows)
    return [r["subject"] for r in rows]


def integrate_once(rt: Runtime, **kwargs: object) -> Integration:
    with rt.db.unit_of_work() as session:
        assert try_single_runner(session, "ledger.integrate")
        return integrator.integrate(session, rt.settings, **kwargs)  # type: ignore[arg-type]


def integrate_all(rt: Runtime, **kwargs: object) -> int:
    """Run the integrator until nothing is pending; return the tree size."""
    while True:
        result = integrate_once(rt, **kwargs)
        if result.size == result.old_size and result.checkpoint is None:
            return result.size


def log_vkey(rt: Runtime) -> str:
    with rt.db.unit_of_work(readonly=True) as session:
        return service.log_vkey(session, rt.settings)


def witness_vkey(rt: Runtime) -> str:
    with rt.db.unit_of_work(readonly=True) as session:
        return keys.witness_signer(rt.settings, keys.resolve_origin(session, rt.settings)).vkey


def checkpoints(rt: Runtime) -> list[SignedCheckpoint]:
    with rt.db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(SignedCheckpoint).order_by(SignedCheckpoint.size)))


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: FastAPI, sock: socket.socket) -> Iterator[str]:
    """Serve ``app`` with uvicorn on an already bound loopback socket, in a thread; yields the base URL."""
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none", http="h11", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
