"""Benchmark: grievances through Open311 on PostgreSQL over 1,000,000 stored grievances.

Run: ``.venv/bin/python bench/grievances.py [--rows 1000000] [--seconds 10] [--connections 4]``
(needs wrk, ``apt-get install wrk``; PostgreSQL at 127.0.0.1:5432 or BENCH_POSTGRES_URL). The
database ``nagara_bench_grievances`` is created for the run and dropped at its end.

1. ``--rows`` grievances are written with one INSERT ... SELECT over ``generate_series`` (every
   category of Kerala, 20 local bodies, the last 365 days, open and closed, 90% public), then ANALYZE.
2. ``nagara serve`` (one process, worker off) answers, loaded by wrk on ``--connections`` connections:
   - list: ``GET /open311/v2/requests.json?jurisdiction_id=<body>&service_code=streetlight,road-pothole
     &status=open&start_date=<30 days ago>&end_date=<now>`` (the spec's filters; at most 1,000 results);
   - list, default window: ``GET /open311/v2/requests.json?jurisdiction_id=<body>`` (90 days, 1,000 results);
   - filing: ``POST /open311/v2/requests.json``, form-encoded with a partner's ``api_key`` (each request
     files a new grievance).
3. References in the same run, without HTTP: the list's own SQL issued with psycopg in a loop on one
   connection (p50 and p99 of each execution), and one filing's inserts (counter, grievance, two
   steps, two ledger entries) as one transaction in a loop.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from read_endpoint import free_port  # noqa: E402 - the sibling benchmark's port helper

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "nagara_bench_grievances"
BODIES = 20

GENERATE = """
INSERT INTO grievances (id, created_at, updated_at, number, token, state_code, local_body_code, ward_code, category_code,
    department, public, channel, citizen_id, filed_by_id, description, address, lat, lon, attributes, state, is_open, level,
    version, assigned_role, state_entered_at, state_due_at, state_escalated, extended, appeal_level, reopen_count,
    supporters, last_seq, breach_count)
SELECT gen_random_uuid()::text, t, t, 'BENCH-G-' || lpad(i::text, 9, '0'), gen_random_uuid()::text, 'kl',
    (CAST(:bodies AS text[]))[1 + i % :nbodies], NULL, (CAST(:cats AS text[]))[1 + (i / 7) % :ncats], 'health', (i / 20) % 10 <> 0, 'portal', :citizen, :citizen,
    'Bench grievance ' || i, 'Main road', 8.5 + (i % 100) / 1000.0, 76.9 + (i % 100) / 1000.0, '{}',
    CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'assigned' END, i % 3 <> 0, 1 + i % 3, 1, 'officer', t,
    t + interval '5 days', false, false, 0, 0, 0, 2, 0
FROM (SELECT i, now() - (i % 525600) * interval '1 minute' - (i % 365) * interval '1 day' / 525600 AS t
      FROM generate_series(1, :rows) AS i) AS g
"""

LIST_SQL = """
SELECT * FROM grievances WHERE local_body_code = %(body)s AND public AND created_at >= %(start)s AND created_at <= %(end)s
  {extra} ORDER BY created_at DESC LIMIT 1000
"""


def serve(url: str, var_dir: Path, port: int, threads: int) -> subprocess.Popen[bytes]:
    """``nagara serve`` on the loopback port, worker off; waits (up to 3 minutes on a loaded machine) for /readyz."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")},
        "NAGARA_DATABASE_URL": url,
        "NAGARA_VAR_DIR": str(var_dir),
        "NAGARA_PORT": str(port),
        "NAGARA_WORKER_EMBEDDED": "false",
        "NAGARA_LOG_LEVEL": "WARNING",
        "NAGARA_THREADS": str(threads),
    }
    proc = subprocess.Popen([sys.executable, "-m", "nagara", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not become ready in 3 minutes")


def pct(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> tuple[float, float, float, str]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def latency(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            raise RuntimeError(out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency("50"), latency("99"), (f"{failed.group(1)} failed" if failed else "0 failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="NAGARA_THREADS for the server")
    args = parser.parse_args()

    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{DB}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB
    var = Path(tempfile.mkdtemp())
    try:
        run(url, var, args)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, var: Path, args: argparse.Namespace) -> None:
    from nagara.domains import load_all
    from nagara.grievances.categories import categories
    from nagara.identity import service as identity
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.runtime import build_runtime
    from nagara.tenancy.models import LocalBody
    from nagara.tenancy.packs import discover, read_pack
    from nagara.tenancy.service import load_pack

    load_all()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=var, worker_embedded=False))
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        for d in discover(ROOT / "packs"):
            load_pack(s, read_pack(d))
        bodies = list(
            s.scalars(text("SELECT code FROM local_bodies WHERE state_code = 'kl' ORDER BY code LIMIT :n"), {"n": BODIES})
        )
        cats = [c.code for c in categories(s, "kl")]
        partner, key = identity.create_partner(
            s,
            state_code="kl",
            username="bench.partner",
            name="Bench app",
            role="grievance_partner",
            place=identity.Place("kl", None),
        )
        partner_id = partner.id
        assert LocalBody is not None
    t0 = time.perf_counter()
    with rt.db.engine.begin() as c:
        c.execute(
            text(GENERATE),
            {
                "bodies": bodies,
                "nbodies": len(bodies),
                "cats": cats,
                "ncats": len(cats),
                "citizen": partner_id,
                "rows": args.rows,
            },
        )
        c.execute(text("ANALYZE grievances"))
    print(
        f"{args.rows:,} grievances written in {time.perf_counter() - t0:.1f}s over {len(bodies)} bodies, {len(cats)} categories"
    )
    rt.db.dispose()

    body = bodies[0]
    now = datetime.now(UTC)
    start = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    filtered = {
        "jurisdiction_id": body,
        "service_code": "streetlight,road-pothole",
        "status": "open",
        "start_date": start,
        "end_date": end,
    }
    port = free_port()
    server = serve(url.replace("postgresql://", "postgresql+psycopg://"), var, port, args.threads)
    base = f"http://127.0.0.1:{port}/open311/v2"
    try:
        with urllib.request.urlopen(f"{base}/requests.json?{urlencode(filtered)}") as r:
            filtered_n = r.read().count(b'"service_request_id"')
        with urllib.request.urlopen(f"{base}/requests.json?{urlencode({'jurisdiction_id': body})}") as r:
            default_n = r.read().count(b'"service_request_id"')
        wrk(f"{base}/requests.json?{urlencode(filtered)}", 2, args.connections)  # warm-up
        health = wrk(f"http://127.0.0.1:{port}/healthz", args.seconds, args.connections)
        lst = wrk(f"{base}/requests.json?{urlencode(filtered)}", args.seconds, args.connections)
        dflt = wrk(f"{base}/requests.json?{urlencode({'jurisdiction_id': body})}", args.seconds, args.connections)
        form = urlencode(
            {
                "api_key": key, "jurisdiction_id": body, "service_code": "streetlight", "address_string": "Statue junction",
                "description": "Three lights off", "attribute[problem]": "off-at-night", "lat": "8.5241", "long": "76.9366",
            }
        )  # fmt: skip
        script = var / "post.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = "{form}"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n',
            encoding="utf-8",
        )
        post = wrk(f"{base}/requests.json", args.seconds, args.connections, script)
    finally:
        server.terminate()
        server.wait(timeout=30)

    dsn = url
    extra = "AND category_code = ANY(%(codes)s) AND state IN ('received', 'assigned', 'in_progress')"
    params = {
        "body": body,
        "start": now - timedelta(days=30),
        "end": now + timedelta(days=1),
        "codes": ["streetlight", "road-pothole"],
    }
    with psycopg.connect(dsn) as conn:
        times: list[float] = []
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            conn.execute(LIST_SQL.format(extra=extra), params).fetchall()  # type: ignore[arg-type]
            times.append((time.perf_counter() - t) * 1000)
        ref_list = pct(times)
        ref_list_rate = len(times) / args.seconds
        times = []
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    "INSERT INTO number_counters (prefix, last) VALUES ('BENCH-REF', 1) "
                    "ON CONFLICT (prefix) DO UPDATE SET last = number_counters.last + 1 RETURNING last"
                ).fetchone()
                gid = conn.execute(
                    "INSERT INTO grievances (id, created_at, updated_at, number, token, state_code, local_body_code, category_code, "
                    "department, public, channel, citizen_id, filed_by_id, description, attributes, state, is_open, level, version, "
                    "state_entered_at, state_escalated, extended, appeal_level, reopen_count, supporters, last_seq, breach_count) "
                    "VALUES (gen_random_uuid()::text, now(), now(), gen_random_uuid()::text, gen_random_uuid()::text, 'kl', %s, "
                    "'streetlight', 'electrical', true, 'open311', %s, %s, 'x', '{}', 'assigned', true, 1, 1, now(), false, false, "
                    "0, 0, 0, 2, 0) RETURNING id",
                    (body, partner_id, partner_id),
                ).fetchone()[0]  # type: ignore[index]
                for seq in (1, 2):
                    conn.execute(
                        "INSERT INTO grievance_steps (id, grievance_id, seq, at, action, to_state, actor_role) "
                        "VALUES (gen_random_uuid()::text, %s, %s, now(), 'file', 'received', 'partner')",
                        (gid, seq),
                    )
                    conn.execute(
                        "INSERT INTO ledger_pending (type, tenant_code, subject, body, created_at) VALUES ('grievance.action', %s, 'x', %s, now())",
                        (body, b"x" * 200),
                    )
            times.append((time.perf_counter() - t) * 1000)
        ref_file = pct(times)
        ref_file_rate = len(times) / args.seconds

    print(
        f"wrk, {args.connections} connections, {args.seconds}s each; one server process with {args.threads} threads; {os.cpu_count()} cores"
    )
    print(f"/healthz (the HTTP stack, no database): {health[0]:8.1f}/s  p50 {health[1]:7.2f} ms  p99 {health[2]:7.2f} ms")
    print(f"list, filtered ({filtered_n} results):      {lst[0]:8.1f}/s  p50 {lst[1]:7.2f} ms  p99 {lst[2]:7.2f} ms  ({lst[3]})")
    print(
        f"list, default window ({default_n} results): {dflt[0]:8.1f}/s  p50 {dflt[1]:7.2f} ms  p99 {dflt[2]:7.2f} ms  ({dflt[3]})"
    )
    print(
        f"  reference: the filtered list's SQL, one connection: {ref_list_rate:8.1f}/s  p50 {ref_list[0]:6.2f} ms  p99 {ref_list[1]:6.2f} ms"
    )
    print(f"filing, Open311 POST:                 {post[0]:8.1f}/s  p50 {post[1]:7.2f} ms  p99 {post[2]:7.2f} ms  ({post[3]})")
    print(
        f"  reference: one filing's inserts as one transaction, one connection: {ref_file_rate:8.1f}/s  p50 {ref_file[0]:6.2f} ms  p99 {ref_file[1]:6.2f} ms"
    )


if __name__ == "__main__":
    main()
