"""Benchmark: an authenticated read endpoint (GET /api/v1/me with a bearer token), on SQLite and PostgreSQL.

Run: ``make bench`` or ``.venv/bin/python bench/read_endpoint.py [--seconds 10] [--connections 16]``.

For each engine it prepares a fresh database (migrated, packs loaded, one
officer and a token), starts ``nagara serve`` (uvicorn, one process, worker
off) on a free loopback port, and loads it with wrk (``apt-get install wrk``;
a slower Python client is used when wrk is missing). Because these machines
are shared and noisy, every figure is printed beside references measured in
the same run:

- ``/healthz``: the same HTTP stack with no database work (the ceiling);
- raw database: the three queries the endpoint makes (token, user, roles),
  issued directly in a loop with no HTTP and no ORM, per second, using
  pgbench against PostgreSQL and the sqlite3 module against SQLite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

TOKEN_SQL = "SELECT id, user_id, kind, expires_at, revoked_at FROM auth_tokens WHERE token_hash = '{h}'"
USER_SQL = "SELECT id, kind, state_code, is_active FROM users WHERE id = '{u}'"
ROLES_SQL = (
    "SELECT r.permissions FROM role_assignments ra JOIN roles r "
    "ON r.state_code = ra.state_code AND r.code = ra.role_code WHERE ra.user_id = '{u}'"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, var_dir: Path) -> tuple[str, str, str]:
    """Migrate, load packs, create an officer; return (token, token hash, user id)."""
    from nagara.domains import load_all
    from nagara.identity import service
    from nagara.kit.crypto import sha256_hex
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.runtime import build_runtime
    from nagara.tenancy.packs import discover, read_pack
    from nagara.tenancy.service import load_pack

    load_all()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=var_dir, worker_embedded=False))
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        for d in discover(ROOT / "packs"):
            load_pack(s, read_pack(d))
        officer = service.create_officer(
            s,
            None,
            state_code="kl",
            username="bench.officer",
            name="Bench",
            password="bench-password-1",
            role="officer",
            place=service.Place("kl", "kl.tvm-corp"),
        ).user
        token = service.issue_token(s, officer, "bearer", label="bench")
        user_id = officer.id
    rt.db.dispose()
    return token, sha256_hex(token), user_id


def serve(url: str, var_dir: Path, port: int, threads: int = 4) -> subprocess.Popen[bytes]:
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
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def load_wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> tuple[float, float, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            raise RuntimeError(out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed responses:\n{out}")
    return rps, latency("50"), latency("99")


def load_python(url: str, headers: dict[str, str], seconds: int, connections: int) -> tuple[float, float, float]:
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run() -> None:
        conn = HTTPConnection(host, int(port))
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            conn.request("GET", "/" + path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(resp.status)
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = statistics.quantiles(latencies, n=100)
    return len(latencies) / seconds, q[49], q[98]


def raw_sqlite(path: str, token_hash: str, user_id: str, seconds: float) -> float:
    conn = sqlite3.connect(path)
    n = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        conn.execute(TOKEN_SQL.format(h=token_hash)).fetchall()
        conn.execute(USER_SQL.format(u=user_id)).fetchall()
        conn.execute(ROLES_SQL.format(u=user_id)).fetchall()
        n += 1
    conn.close()
    return n / seconds


def pgbench_tps(script: Path, dbname: str, seconds: int, connections: int) -> float:
    """Transactions per second of pgbench running ``script`` (prepared statements, 2 threads)."""
    args = ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared", "-f", str(script)]
    args += ["-T", str(seconds), "-c", str(connections), "-j", "2", dbname]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]


def raw_pgbench(dbname: str, token_hash: str, user_id: str, seconds: int, connections: int) -> float:
    script = Path(tempfile.mkdtemp()) / "auth.sql"
    script.write_text(
        "\n".join(q.format(h=token_hash, u=user_id) + ";" for q in (TOKEN_SQL, USER_SQL, ROLES_SQL)) + "\n", encoding="utf-8"
    )
    return pgbench_tps(script, dbname, seconds, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--threads", type=int, default=4, help="NAGARA_THREADS for the server")
    args = parser.parse_args()
    load = load_wrk if shutil.which("wrk") else load_python
    print(
        f"load generator: {'wrk' if load is load_wrk else 'python threads (install wrk for better figures)'}; "
        f"{args.connections} connections, {args.seconds}s per figure, 1 server process with {args.threads} threads; "
        f"{os.cpu_count()} cores"
    )
    rows = []
    for engine in args.engines.split(","):
        tmp = Path(tempfile.mkdtemp(prefix="nagara-bench-"))
        if engine == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"
        else:
            admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text("DROP DATABASE IF EXISTS nagara_bench WITH (FORCE)"))
                c.execute(text("CREATE DATABASE nagara_bench"))
            admin.dispose()
            url = PG_ADMIN.rsplit("/", 1)[0] + "/nagara_bench"
        token, token_hash, user_id = prepare(url, tmp)
        port = free_port()
        proc = serve(url, tmp, port, args.threads)
        try:
            base = f"http://127.0.0.1:{port}"
            load(f"{base}/api/v1/me", {"Authorization": f"Bearer {token}"}, 2, args.connections)  # warm up
            me = load(f"{base}/api/v1/me", {"Authorization": f"Bearer {token}"}, args.seconds, args.connections)
            health = load(f"{base}/healthz", {}, args.seconds, args.connections)
        finally:
            proc.terminate()
            proc.wait(10)
        if engine == "sqlite":
            raw = raw_sqlite(str(tmp / "bench.db"), token_hash, user_id, args.seconds)
        else:
            raw = raw_pgbench("nagara_bench", token_hash, user_id, args.seconds, args.connections)
        rows.append((engine, me, health, raw))
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\n{'engine':<11} {'GET /api/v1/me':>16} {'p50 ms':>8} {'p99 ms':>8} | {'GET /healthz':>13} {'p99 ms':>8} | {'raw db lookups/s':>17}"
    )
    for engine, me, health, raw in rows:
        print(
            f"{engine:<11} {me[0]:>12.0f} r/s {me[1]:>8.2f} {me[2]:>8.2f} | {health[0]:>9.0f} r/s {health[2]:>8.2f} | {raw:>17.0f}"
        )
    print(
        "\nraw db lookups/s: the endpoint's three queries with no HTTP or ORM "
        "(pgbench -M prepared for PostgreSQL, sqlite3 in one thread for SQLite)"
    )


if __name__ == "__main__":
    main()
