"""Benchmark: application submission and an officer action over HTTP on PostgreSQL,
beside pgbench inserting the same number of rows per transaction into the same database.

Run: ``.venv/bin/python bench/applications.py [--seconds 15] [--connections 32] [--workers 2]``
(needs wrk: ``apt-get install wrk``; PostgreSQL at 127.0.0.1:5432).

- submission: ``POST /api/v1/tenants/kl.tvm-corp/applications`` with ``submit: true`` for a
  service without documents (bench/packs/quick-certificate.yaml, added to a temporary copy
  of the Kerala pack): form validation, fees, the number, sealing, the first state's
  assignment and due time, history, audit and ledger rows, all in one transaction;
- officer action: ``POST /api/v1/applications/{number}/actions`` ``forward`` by the section
  clerk, each on a different application, with its version;
- reference: pgbench running transactions that insert as many rows as one submission
  writes (counted, not assumed), into a table of similar width, with the same number of
  clients. The ratio is submissions per second over those transactions per second.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from read_endpoint import PG_ADMIN, ROOT, free_port, pgbench_tps

DB = "nagara_bench_apps"
FORM = '{"applicant_name": "Lakshmi", "purpose": "education", "ward": 12}'


def prepare(var_dir: Path) -> tuple[str, str, str]:
    from nagara.domains import load_all
    from nagara.identity import service
    from nagara.identity.models import RoleAssignment, User
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.runtime import build_runtime
    from nagara.tenancy.packs import read_pack
    from nagara.tenancy.service import load_pack

    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB
    packs = var_dir / "packs"
    shutil.copytree(ROOT / "packs", packs)
    shutil.copy(ROOT / "bench" / "packs" / "quick-certificate.yaml", packs / "kl" / "services")
    load_all()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=var_dir, worker_embedded=False))
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        for state in ("kl", "ka"):
            load_pack(s, read_pack(packs / state))
        clerk = service.create_officer(
            s,
            None,
            state_code="kl",
            username="bench.clerk",
            name="Clerk",
            password="bench-password-1",
            role="section_clerk",
            place=service.Place("kl", "kl.tvm-corp"),
        ).user
        citizen = User(kind="citizen", state_code="kl", mobile_index="bench-citizen", language="ml")
        s.add(citizen)
        s.flush()
        s.add(RoleAssignment(user_id=citizen.id, state_code="kl", role_code="citizen"))
        s.flush()
        citizen_token = service.issue_token(s, citizen, "bearer")
        clerk_token = service.issue_token(s, clerk, "bearer")
    rt.db.dispose()
    return url, citizen_token, clerk_token


def serve(url: str, var_dir: Path, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")},
        "NAGARA_DATABASE_URL": url,
        "NAGARA_VAR_DIR": str(var_dir),
        "NAGARA_WORKER_EMBEDDED": "false",
        "NAGARA_LOG_LEVEL": "WARNING",
        "NAGARA_THREADS": str(threads),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "nagara", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        subprocess.run(["sleep", "0.2"], check=True)
    proc.kill()
    raise RuntimeError("server did not start")


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float, int]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            raise RuntimeError(out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency("50"), latency("99"), int(bad.group(1)) if bad else 0


def _row_counts(engine: Any) -> int:
    with engine.connect() as c:
        tables = c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return sum(int(c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0) for t in tables)


def rows_per_submission(url: str, base: str, token: str) -> int:
    """Rows one submission adds across all tables (counted, so the reference writes as many)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    before = _row_counts(engine)
    body = f'{{"service": "quick-certificate", "data": {FORM}, "submit": true}}'
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    httpx.post(f"{base}/api/v1/tenants/kl.tvm-corp/applications", content=body, headers=headers).raise_for_status()
    after = _row_counts(engine)
    engine.dispose()
    return after - before


def pgbench(rows: int, seconds: int, connections: int, db: str = DB) -> float:
    """pgbench transactions per second, each inserting ``rows`` rows into a table of database ``db``."""
    admin = create_engine(PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{db}")
    with admin.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS bench_rows"))
        c.execute(text("CREATE TABLE bench_rows (id bigserial PRIMARY KEY, k text, owner text, body jsonb, at timestamptz)"))
        c.execute(text("CREATE INDEX ON bench_rows (k)"))
    admin.dispose()
    script = Path(tempfile.mkdtemp()) / "rows.sql"
    insert = 'INSERT INTO bench_rows (k, owner, body, at) VALUES (md5(random()::text), \'clerk\', \'{"a": 1, "b": "some text"}\', now());'
    script.write_text("BEGIN;\n" + "\n".join([insert] * rows) + "\nEND;\n", encoding="utf-8")
    return pgbench_tps(script, db, seconds, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--threads", type=int, default=4, help="NAGARA_THREADS per process")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("this benchmark needs wrk: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="nagara-bench-apps-"))
    url, citizen, clerk = prepare(tmp)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(url, tmp, port, args.workers, args.threads)
    try:
        rows = rows_per_submission(url, base, citizen)
        submit_lua = tmp / "submit.lua"
        submit_lua.write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = \'{{"service": "quick-certificate", "data": {FORM}, "submit": true}}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {citizen}"\n',
            encoding="utf-8",
        )
        wrk(f"{base}/api/v1/tenants/kl.tvm-corp/applications", submit_lua, 3, args.connections)  # warm up
        submit = wrk(f"{base}/api/v1/tenants/kl.tvm-corp/applications", submit_lua, args.seconds, args.connections)

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as c:
            found = c.execute(text("SELECT number, version FROM applications WHERE state = 'scrutiny' ORDER BY number")).all()
        engine.dispose()
        numbers = tmp / "numbers.txt"
        numbers.write_text("".join(f"{n} {v}\n" for n, v in found), encoding="utf-8")
        act_lua = tmp / "act.lua"
        act_lua.write_text(
            f"""
local rows = {{}}
for line in io.lines("{numbers}") do rows[#rows + 1] = line end
local counter = 0
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) counter = id end
function request()
  local row = rows[counter % #rows + 1]
  counter = counter + 2
  local number, version = row:match("(%S+) (%d+)")
  return wrk.format("POST", "/api/v1/applications/" .. number .. "/actions",
    {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {clerk}"}},
    '{{"action": "forward", "version": ' .. version .. '}}')
end
""",
            encoding="utf-8",
        )
        act_seconds = max(2, min(args.seconds, int(len(found) / max(submit[0], 1) / 2)))
        action = wrk(base, act_lua, act_seconds, args.connections)
    finally:
        proc.terminate()
        proc.wait(30)
    reference = pgbench(rows, args.seconds, args.connections)
    print(
        f"PostgreSQL; {args.workers} server processes x {args.threads} threads; wrk {args.connections} connections; {os.cpu_count()} cores"
    )
    print(f"rows written per submission (counted in every table): {rows}")
    print(f"{'':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'failed':>9}")
    print(f"{'submit application':<26}{submit[0]:>10.0f}{submit[1]:>10.2f}{submit[2]:>10.2f}{submit[3]:>9}")
    print(
        f"{'officer action (forward)':<26}{action[0]:>10.0f}{action[1]:>10.2f}{action[2]:>10.2f}{action[3]:>9}  ({act_seconds}s, {len(found)} applications)"
    )
    print(f"{'pgbench, ' + str(rows) + ' inserts/txn':<26}{reference:>10.0f}")
    print(
        f"ratio submissions / pgbench transactions: {submit[0] / reference:.3f} (design target: at least 0.5, and 2,000 submissions/s)"
    )


if __name__ == "__main__":
    main()
