"""Benchmark: online payment creation and the gateway's callback over HTTP on PostgreSQL, beside
pgbench inserting as many rows per transaction into the same database.

Run: ``.venv/bin/python bench/payments.py [--seconds 15] [--connections 32] [--workers 2] [--demands 20000]``
(needs wrk and pgbench; PostgreSQL at 127.0.0.1:5432).

- demands: property tax demands raised from a register of ``--demands`` properties of one
  citizen at kl.tvm-corp (the real path: ``payments.demands.raise_property_demands``);
- create payment: ``POST /api/v1/demands/{number}/payments`` with an ``Idempotency-Key``, each
  request on a different demand: the demand's row lock, the amount due today, the payment row
  and the local gateway's order, audit rows, in one transaction;
- callback: ``POST /api/v1/payments/callback/local``, a signed (HMAC-SHA256) success callback for
  each payment created, its gateway order marked paid beforehand (what the hosted page does):
  signature check, payment and demand locks, the receipt and its number, the balanced journal
  voucher, the ledger entry, the gateway event, audit rows;
- reference: pgbench transactions that insert as many rows as one creation plus one callback
  write (counted, not assumed), with the same number of clients, as in bench/applications.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from applications import _row_counts, serve, wrk
from applications import pgbench as applications_pgbench
from read_endpoint import PG_ADMIN, ROOT, free_port

DB = "nagara_bench_payments"
TENANT = "kl.tvm-corp"


def prepare(var_dir: Path, demands: int) -> tuple[str, str, Any]:
    from nagara.domains import load_all
    from nagara.identity import service
    from nagara.identity.models import RoleAssignment, User
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.payments import demands as payments
    from nagara.payments.models import Property
    from nagara.runtime import build_runtime
    from nagara.tenancy.packs import read_pack
    from nagara.tenancy.service import load_pack

    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB
    load_all()
    settings = Settings(env="test", database_url=url, var_dir=var_dir, worker_embedded=False)
    rt = build_runtime(settings)
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        for state in ("kl", "ka"):
            load_pack(s, read_pack(ROOT / "packs" / state))
        citizen = User(kind="citizen", state_code="kl", mobile_index="bench-payer", language="ml")
        s.add(citizen)
        s.flush()
        s.add(RoleAssignment(user_id=citizen.id, state_code="kl", role_code="citizen"))
        s.flush()
        token = service.issue_token(s, citizen, "bearer")
        s.add_all(
            Property(
                local_body_code=TENANT,
                state_code="kl",
                assessment_number=f"B/{n:06d}",
                usage="residential",
                zone=1 + n % 3,
                plinth_area_sqm=60 + n % 200,
                owner_id=citizen.id,
            )
            for n in range(demands)
        )
    started = time.perf_counter()
    with rt.db.unit_of_work() as s:
        raised = payments.raise_property_demands(s, TENANT)
    print(f"raised {raised} property tax demands in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url, token, rt


def demand_numbers(url: str, status: str = "due") -> list[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        found = (
            c.execute(text("SELECT number FROM payments_demands WHERE status = :s ORDER BY number"), {"s": status})
            .scalars()
            .all()
        )
    engine.dispose()
    return list(found)


def signed_callbacks(rt: Any, url: str) -> list[tuple[str, str]]:
    """Mark every open local gateway order paid (the payer on the hosted page) and sign its callback now."""
    from nagara.payments.gateways import LocalGateway, local_secret

    gateway = LocalGateway(local_secret(rt.settings), rt.settings.base_url)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(
            text(
                "UPDATE payments_local_gateway_orders SET status = 'paid', payment_ref = 'lgp_' || substr(md5(id), 1, 16), method = 'upi', paid_at = now() WHERE status = 'created'"
            )
        )
        rows = c.execute(text("SELECT id FROM payments_local_gateway_orders WHERE status = 'paid' ORDER BY id")).scalars().all()
    engine.dispose()
    from nagara.payments.models import LocalGatewayOrder

    out = []
    with rt.db.unit_of_work(readonly=True) as s:
        for order_id in rows:
            order = s.get(LocalGatewayOrder, order_id)
            body = gateway.callback_body(order).decode()
            out.append((gateway.sign(body.encode()), body))
    return out


def rows_per_payment(url: str, base: str, token: str, rt: Any) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    before = _row_counts(engine)
    number = demand_numbers(url)[-1]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "bench-count"}
    httpx.post(f"{base}/api/v1/demands/{number}/payments", json={}, headers=headers).raise_for_status()
    ((signature, body),) = signed_callbacks(rt, url)
    answer = httpx.post(
        f"{base}/api/v1/payments/callback/local",
        content=body,
        headers={"Content-Type": "application/json", "X-Local-Gateway-Signature": signature},
    )
    answer.raise_for_status()
    assert answer.json()["outcome"] == "settled", answer.text
    after = _row_counts(engine)
    engine.dispose()
    return after - before


def pgbench(rows: int, seconds: int, connections: int) -> float:
    return applications_pgbench(rows, seconds, connections, db=DB)


ROTATE = """
local rows = {{}}
for line in io.lines("{path}") do rows[#rows + 1] = line end
local counter = 0
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) counter = id end
function request()
  local row = rows[counter % #rows + 1]
  counter = counter + 2
  {make}
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--threads", type=int, default=4, help="NAGARA_THREADS per process")
    parser.add_argument("--demands", type=int, default=20000, help="demands to pay (each request pays a different one)")
    args = parser.parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"this benchmark needs {tool}")
    tmp = Path(tempfile.mkdtemp(prefix="nagara-bench-payments-"))
    url, token, rt = prepare(tmp, args.demands)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rt.settings.base_url = base
    proc = serve(url, tmp, port, args.workers, args.threads)
    try:
        rows = rows_per_payment(url, base, token, rt)
        numbers = tmp / "demands.txt"
        numbers.write_text("".join(f"{n}\n" for n in demand_numbers(url)), encoding="utf-8")
        create_lua = tmp / "create.lua"
        create_lua.write_text(
            ROTATE.format(
                path=numbers,
                make=(
                    'return wrk.format("POST", "/api/v1/demands/" .. row .. "/payments", '
                    f'{{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}", '
                    '["Idempotency-Key"] = "bench-" .. row}, "{}")'
                ),
            ),
            encoding="utf-8",
        )
        create = wrk(base, create_lua, args.seconds, args.connections)
        callbacks = signed_callbacks(rt, url)
        bodies = tmp / "callbacks.txt"
        bodies.write_text("".join(f"{sig}\t{body}\n" for sig, body in callbacks), encoding="utf-8")
        callback_lua = tmp / "callback.lua"
        callback_lua.write_text(
            ROTATE.format(
                path=bodies,
                make=(
                    'local sig, body = row:match("([^\\t]+)\\t(.*)")\n'
                    '  return wrk.format("POST", "/api/v1/payments/callback/local", '
                    '{["Content-Type"] = "application/json", ["X-Local-Gateway-Signature"] = sig}, body)'
                ),
            ),
            encoding="utf-8",
        )
        paid_before = len(demand_numbers(url, "paid"))
        seconds = args.seconds
        callback = wrk(base, callback_lua, seconds, args.connections)
        paid = len(demand_numbers(url, "paid")) - paid_before
        settled_rate = paid / seconds
    finally:
        proc.terminate()
        proc.wait(30)
    reference = pgbench(rows, args.seconds, args.connections)
    per_payment = 1 / (1 / create[0] + 1 / settled_rate)
    ran_out = " (every callback settled: the rate is a lower bound)" if paid >= len(callbacks) else ""
    print(
        f"PostgreSQL; {args.workers} server processes x {args.threads} threads; wrk {args.connections} connections; {os.cpu_count()} cores"
    )
    print(f"rows written per payment, creation plus callback (counted in every table): {rows}")
    print(f"{'':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'failed':>9}")
    print(f"{'create payment':<28}{create[0]:>10.0f}{create[1]:>10.2f}{create[2]:>10.2f}{create[3]:>9}")
    print(f"{'callback (wrk requests)':<28}{callback[0]:>10.0f}{callback[1]:>10.2f}{callback[2]:>10.2f}{callback[3]:>9}")
    print(
        f"{'callback settlements':<28}{settled_rate:>10.0f}  ({paid} of {len(callbacks)} payments settled in {seconds}s{ran_out})"
    )
    print(f"{'payments end to end':<28}{per_payment:>10.0f}")
    print(f"{'pgbench, ' + str(rows) + ' inserts/txn':<28}{reference:>10.0f}")
    print(f"ratio payments / pgbench transactions: {per_payment / reference:.3f}")


if __name__ == "__main__":
    main()
