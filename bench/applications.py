"""Benchmark: applications over HTTP on PostgreSQL, beside pgbench doing as many inserts per
transaction in the same run, and /api/v1/me beside /healthz.

Run: ``make bench`` or ``.venv/bin/python bench/applications.py [--seconds 10] [--connections 32]
[--workers N] [--threads N]`` (needs wrk and pgbench, ``apt-get install wrk postgresql-client``;
PostgreSQL at 127.0.0.1:5432, or BENCH_POSTGRES_URL). The database ``nagara_bench_apps`` is
created for the run and dropped at its end. All load goes from this machine to 127.0.0.1, one
figure at a time, each for ``--seconds`` (a few short warm-ups and probes besides): about two
minutes with the defaults.

What is measured (wrk, ``--connections`` connections; each figure's failed requests are shown):

- submit, state-wide mix: ``POST /api/v1/tenants/{body}/applications`` with ``submit: true``,
  spread over ``--bodies`` local bodies of Kerala (the pack's corporations, municipalities and
  grama panchayats, then generated grama panchayats up to the number, added to a temporary copy
  of the pack and loaded by the pack loader), five services (bench/packs/quick-certificate.yaml
  and four variants of it: no fee, a slab fee, a larger form, another fee; no documents, so one
  request submits) and ``--citizens`` citizens, each request another citizen, body and service;
- submit, one body: the same for one service of one local body (its counter row is the hot spot);
- forward and approve: ``POST /api/v1/applications/{number}/actions`` by each body's section
  clerk (``forward``) and then its secretary (``approve``, which issues the certificate), each
  request on a different application with its version. A short probe measures the rate first,
  so the run never runs out of applications;
- GET application: ``GET /api/v1/applications/{number}`` by its applicant;
- ``GET /api/v1/me`` (citizens' and officers' tokens in turn) and ``GET /healthz``, back to back;
- references, with the server stopped: pgbench transactions that each insert as many rows as one
  submission (the mean over the five services), one forward or one approval writes (counted in
  every table, not assumed), with as many clients. Each write's ratio is its rate over the
  reference's transactions per second; /api/v1/me's is its rate over /healthz's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from nagara.domains import load_all
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit.migrate import upgrade
from nagara.kit.settings import Settings
from nagara.runtime import build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack

sys.path.insert(0, str(Path(__file__).parent))
from read_endpoint import PG_ADMIN, ROOT, free_port, pgbench_tps

DB = "nagara_bench_apps"
STATE = "kl"
BODY_TYPES = ("corporation", "municipality", "grama_panchayat")  # those that offer the bench services
WRK_THREADS = 2
# Officers and citizens are made for the run; a cheap Argon2id keeps preparing quick.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

SMALL_FORM = {"applicant_name": "Lakshmi", "purpose": "education", "ward": 12}
LARGE_FORM = {
    **SMALL_FORM,
    "father_name": "Raman",
    "house_name": "Sreenilayam",
    "house_number": "TC 12/345",
    "street": "Kowdiar Road",
    "post_office": "Kowdiar",
    "pin": "695003",
    "years_resident": 14,
    "remarks": "needed for admission to a college outside the State",
}


def _services() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Five services (code: definition, form data): quick-certificate and four variants of it."""
    base = yaml.safe_load((ROOT / "bench" / "packs" / "quick-certificate.yaml").read_text(encoding="utf-8"))

    def variant(code: str, short: str, **changes: Any) -> dict[str, Any]:
        spec = json.loads(json.dumps(base))
        english = code.replace("-", " ").capitalize()
        spec.update(code=code, short=short, name={**spec["name"], "en": english})
        spec.update(changes)
        return spec

    large_schema = json.loads(json.dumps(base["form"]))
    large_schema["schema"]["required"] = [*large_schema["schema"]["required"], "house_name", "pin"]
    large_schema["schema"]["properties"].update(
        {
            name: {"type": "string", "minLength": 1, "maxLength": 100}
            for name in ("father_name", "house_name", "house_number", "street", "post_office", "remarks")
        }
        | {"pin": {"type": "string", "pattern": "^[1-9][0-9]{5}$"}, "years_resident": {"type": "integer", "minimum": 0}}
    )
    slab = {
        "items": [
            {
                "code": "fee",
                "name": {"ml": "ഫീസ്", "en": "Fee", "kn": "ಶುಲ್ಕ", "hi": "शुल्क"},
                "kind": "slab",
                "field": "ward",
                "slabs": [{"upto": 50, "amount": 500}, {"upto": None, "amount": 1500}],
            }
        ]
    }
    no_fee = variant("quick-noc", "QN")
    del no_fee["fees"]
    return {
        "quick-certificate": (base, SMALL_FORM),
        "quick-noc": (no_fee, SMALL_FORM),
        "quick-permit": (variant("quick-permit", "QP", fees=slab), SMALL_FORM),
        "quick-extract": (variant("quick-extract", "QX", form=large_schema), LARGE_FORM),
        "quick-licence": (
            variant("quick-licence", "QL", fees={"items": [{**base["fees"]["items"][0], "amount": 25000}]}),
            SMALL_FORM,
        ),
    }


def bench_pack(packs: Path, bodies: int) -> tuple[list[str], int]:
    """Copy the packs into ``packs`` with the bench services and ``bodies`` local bodies of Kerala
    that offer them; return their codes (``kl.<code>``) and how many were generated."""
    shutil.copytree(ROOT / "packs", packs)
    for code, (spec, _form) in _services().items():
        (packs / STATE / "services" / f"{code}.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    path = packs / STATE / "local_bodies.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    offering = [b["code"] for b in doc["local_bodies"] if b["type"] in BODY_TYPES][:bodies]
    districts = sorted({b["district"] for b in doc["local_bodies"]})
    generated = [f"bench-gp-{n:03d}" for n in range(1, bodies - len(offering) + 1)]
    doc["local_bodies"] += [
        {
            "code": code,
            "lgd_code": None,
            "type": "grama_panchayat",
            "district": districts[n % len(districts)],
            "name": {"ml": f"ബെഞ്ച് {n}", "en": f"Bench panchayat {n}", "kn": f"ಬೆಂಚ್ {n}", "hi": f"बेंच {n}"},
        }
        for n, code in enumerate(generated, start=1)
    ]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return [f"{STATE}.{code}" for code in offering + generated], len(generated)


@dataclass
class Setup:
    url: str
    bodies: list[str]
    generated: int
    citizens: dict[str, str]  # user id: bearer token
    clerks: dict[str, str] = field(default_factory=dict)  # local body: the section clerk's token
    secretaries: dict[str, str] = field(default_factory=dict)  # local body: the secretary's token
    rows: tuple[float, int, int] | None = None  # rows a submission, a forward and an approval write


def create_database() -> str:
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + DB


def drop_database() -> None:
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
    admin.dispose()


def prepare(var_dir: Path, bodies: int, citizens: int) -> Setup:
    url = create_database()
    packs = var_dir / "packs"
    codes, generated = bench_pack(packs, bodies)
    load_all()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=var_dir, worker_embedded=False), hasher=FAST_ARGON2)
    upgrade(rt.db.engine)
    setup = Setup(url, codes, generated, {})
    with rt.db.unit_of_work() as s:
        for state in ("kl", "ka"):
            load_pack(s, read_pack(packs / state))
    with rt.db.unit_of_work() as s:
        for n, body in enumerate(codes):
            for role, tokens in (("section_clerk", setup.clerks), ("secretary", setup.secretaries)):
                officer = identity.create_officer(
                    s,
                    None,
                    state_code=STATE,
                    username=f"bench.{role.replace('_', '-')}.{n}",
                    name=f"Bench {role} {n}",
                    password="bench-password-1",
                    role=role,
                    place=identity.Place(STATE, body),
                ).user
                tokens[body] = identity.issue_token(s, officer, "bearer")
        people = [
            User(kind="citizen", state_code=STATE, mobile_index=f"bench-citizen-{n}", language="ml") for n in range(citizens)
        ]
        s.add_all(people)
        s.flush()
        s.add_all(RoleAssignment(user_id=p.id, state_code=STATE, role_code="citizen") for p in people)
        s.flush()
        for p in people:
            setup.citizens[p.id] = identity.issue_token(s, p, "bearer")
    rt.db.dispose()
    return setup


def serve(url: str, var_dir: Path, port: int, workers: int | None, threads: int | None) -> subprocess.Popen[bytes]:
    """``nagara serve`` on ``port`` with the worker off; ``None`` keeps the server's own default."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")},
        "NAGARA_DATABASE_URL": url,
        "NAGARA_VAR_DIR": str(var_dir),
        "NAGARA_WORKER_EMBEDDED": "false",
        "NAGARA_LOG_LEVEL": "WARNING",
    }
    if threads is not None:
        env["NAGARA_THREADS"] = str(threads)
    args = [sys.executable, "-m", "nagara", "serve", "--port", str(port)]
    if workers is not None:
        args += ["--workers", str(workers)]
    with (var_dir / "server.log").open("ab") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 300  # several processes start slowly on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    log_tail = (var_dir / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:]
    raise RuntimeError(f"server did not start:\n{log_tail}")


class Load(NamedTuple):
    """One wrk run; a tuple whose first four are (req/s, p50 ms, p99 ms, failed), as bench/payments.py reads it."""

    rps: float
    p50: float
    p99: float
    failed: int
    done: int
    reached: int = 0  # the first row index that no thread of wrk had taken (rows past the offset)
    server_ms: float = 0.0  # CPU time of the server's processes per request
    database_ms: float = 0.0  # CPU time of the PostgreSQL backends serving the bench's database per request


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` so far (Linux /proc); a process gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False).stdout.split()
    return [proc.pid, *map(int, children)]


def database_pids(url: str) -> list[int]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        pids = c.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        found = [int(p) for p in pids]
    engine.dispose()
    return found


# One Lua script for every figure: it reads requests (method, path, token, JSON body; tab-separated,
# "-" for none) from the file given after "--", with an offset into it; each wrk thread takes every
# WRK_THREADS-th request, so no request is sent twice until the file is used up.
LUA = """
local requests = {}
index = 0  -- global, so that done() can read it with thread:get
local threads = {}
function setup(thread) thread:set("id", #threads); threads[#threads + 1] = thread end
function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^(%S+)\\t(%S+)\\t(%S+)\\t(.*)$")
    local headers = {}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "-" then body = nil else headers["Content-Type"] = "application/json" end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  index = tonumber(args[2]) + id
end
function request()
  local r = requests[index % #requests + 1]
  index = index + THREADS
  return r
end
-- Each thread walks its own rows (id, id + THREADS, ...), so how many requests were done does not
-- say which rows were taken: print the next row of the thread that got furthest.
function done(summary, latency, requests)
  local reached = 0
  for _, thread in ipairs(threads) do reached = math.max(reached, thread:get("index")) end
  io.write(string.format("reached %d\\n", reached))
end
""".replace("THREADS", str(WRK_THREADS))


def requests_file(path: Path, rows: list[tuple[str, str, str | None, str | None]]) -> Path:
    path.write_text("".join(f"{m}\t{p}\t{t or '-'}\t{b or '-'}\n" for m, p, t, b in rows), encoding="utf-8")
    return path


def wrk(base: str, script: Path, seconds: int, connections: int, *args: str) -> Load:
    """Run wrk against ``base`` for ``seconds`` with ``script`` (and its arguments after ``--``)."""
    cmd = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run([*cmd, "--", *args] if args else cmd, capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            raise RuntimeError(out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (int(timeouts.group(1)) if timeouts else 0)
    reached = re.search(r"^reached (\d+)$", out, re.MULTILINE)
    return Load(rps, latency("50"), latency("99"), failed, done, int(reached.group(1)) if reached else 0)


def _row_counts(engine: Any) -> int:
    with engine.connect() as c:
        tables = c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return sum(int(c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0) for t in tables)


def _submit_body(service: str) -> str:
    return json.dumps({"service": service, "data": _services()[service][1], "submit": True})


def rows_written(url: str, base: str, setup: Setup) -> tuple[float, int, int]:
    """Rows one submission (mean of the services), one forward and one approval add, in all tables."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    body = setup.bodies[0]
    citizen = next(iter(setup.citizens.values()))
    counts: list[int] = []
    numbers: list[str] = []
    for service in _services():
        before = _row_counts(engine)
        r = httpx.post(
            f"{base}/api/v1/tenants/{body}/applications",
            content=_submit_body(service),
            headers={"Authorization": f"Bearer {citizen}", "Content-Type": "application/json"},
        )
        r.raise_for_status()
        counts.append(_row_counts(engine) - before)
        numbers.append(r.json()["number"])
    acted = []
    for action, token in (("forward", setup.clerks[body]), ("approve", setup.secretaries[body])):
        version = httpx.get(f"{base}/api/v1/applications/{numbers[0]}", headers={"Authorization": f"Bearer {token}"}).json()[
            "version"
        ]
        before = _row_counts(engine)
        httpx.post(
            f"{base}/api/v1/applications/{numbers[0]}/actions",
            json={"action": action, "version": version},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        acted.append(_row_counts(engine) - before)
    engine.dispose()
    return sum(counts) / len(counts), acted[0], acted[1]


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


def applications_in(url: str, state: str | None = None) -> list[tuple[str, int, str, str]]:
    """(number, version, local body, applicant id) of the applications in ``state`` (or all), oldest first."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT number, version, local_body_code, applicant_id FROM applications "
                "WHERE state = coalesce(:state, state) ORDER BY submitted_at, number"
            ),
            {"state": state},
        ).all()
    engine.dispose()
    return [(r[0], int(r[1]), r[2], r[3]) for r in rows]


@dataclass
class Run:
    base: str
    tmp: Path
    seconds: int
    connections: int
    server: subprocess.Popen[bytes] | None = None
    url: str = ""
    script: Path = field(init=False)

    def __post_init__(self) -> None:
        self.script = self.tmp / "requests.lua"
        self.script.write_text(LUA, encoding="utf-8")

    def load(self, name: str, rows: list[tuple[str, str, str | None, str | None]], seconds: int, offset: int = 0) -> Load:
        path = requests_file(self.tmp / f"{name}.tsv", rows)
        # CPU per request is steadier than requests per second on a shared machine: the wrk runs
        # of other work do not count in it. Backends are looked up after the run, when the pool is full.
        servers = server_pids(self.server) if self.server else []
        before = _cpu_seconds(servers)
        backends = {pid: _cpu_seconds([pid]) for pid in database_pids(self.url)} if self.url else {}
        load = wrk(self.base, self.script, seconds, self.connections, str(path), str(offset))
        per_request = 1000 / max(load.done, 1)
        server_ms = (_cpu_seconds(servers) - before) * per_request
        after = database_pids(self.url) if self.url else []
        database_ms = sum(_cpu_seconds([pid]) - backends.get(pid, 0.0) for pid in after) * per_request
        return load._replace(server_ms=server_ms, database_ms=database_ms)

    def actions(self, name: str, action: str, apps: list[tuple[str, int, str, str]], tokens: dict[str, str]) -> tuple[Load, int]:
        """Each application once: a 2 s probe gives the rate, then a run as long as what is left allows."""
        rows = [
            ("POST", f"/api/v1/applications/{n}/actions", tokens[body], json.dumps({"action": action, "version": v}))
            for n, v, body, _ in apps
        ]
        probe = self.load(name, rows, 2)
        if not probe.reached:  # LUA's done() prints it; without it the run would repeat the probe's rows
            raise RuntimeError("wrk did not say which rows the probe reached")
        offset = probe.reached  # every row a probe thread took, in flight when it stopped or not
        left = len(rows) - offset
        seconds = max(1, min(self.seconds, int(0.8 * left / max(probe.rps, 1.0))))
        return self.load(name, rows, seconds, offset), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per figure (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--workers", type=int, help="server processes (default: nagara serve's own, NAGARA_WORKERS)")
    parser.add_argument("--threads", type=int, help="NAGARA_THREADS per process (default: the setting's default)")
    parser.add_argument("--bodies", type=int, default=60, help="local bodies in the state-wide mix (default 60)")
    parser.add_argument("--citizens", type=int, default=500, help="citizens applying (default 500)")
    parser.add_argument(
        "--layouts",
        help="compare server layouts on one database: PROCESSESxTHREADS, comma-separated (e.g. 1x4,2x4,4x2)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"this benchmark needs {tool}: apt-get install {'wrk' if tool == 'wrk' else 'postgresql-client'}")
    if args.bodies < 50:
        print("note: fewer than 50 local bodies is not the state-wide mix the targets are set for")
    tmp = Path(tempfile.mkdtemp(prefix="nagara-bench-apps-"))
    try:
        report(prepare(tmp, args.bodies, args.citizens), tmp, args)
    finally:
        drop_database()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Measured:
    layout: str
    figures: dict[str, Load]
    seconds: dict[str, int]  # how long each action ran (as long as the applications allowed)


def measure(setup: Setup, tmp: Path, args: argparse.Namespace, workers: int | None, threads: int | None) -> Measured:
    """Serve with this layout and measure every figure."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(setup.url, tmp, port, workers, threads)
    layout = server_layout(proc, threads)
    run = Run(base, tmp, args.seconds, args.connections, proc, setup.url)
    services = list(_services())
    citizens = list(setup.citizens.values())
    try:
        if setup.rows is None:
            setup.rows = rows_written(setup.url, base, setup)
        # 3,000 submissions, each another citizen, local body and service (the three cycles are coprime
        # or offset, so every body gets every service).
        mix = [
            (
                "POST",
                f"/api/v1/tenants/{setup.bodies[i % len(setup.bodies)]}/applications",
                citizens[i % len(citizens)],
                _submit_body(services[(i // len(setup.bodies)) % len(services)]),
            )
            for i in range(3000)
        ]
        run.load("warm", mix, 3)
        figures: dict[str, Load] = {}
        figures[MIX] = run.load("mix", mix, args.seconds)
        hot = [
            ("POST", f"/api/v1/tenants/{setup.bodies[0]}/applications", citizens[i % len(citizens)], _submit_body(services[0]))
            for i in range(len(citizens))
        ]
        figures[HOT] = run.load("hot", hot, args.seconds)
        seconds = {}
        figures[FORWARD], seconds[FORWARD] = run.actions(
            "forward", "forward", applications_in(setup.url, "scrutiny"), setup.clerks
        )
        figures[APPROVE], seconds[APPROVE] = run.actions(
            "approve", "approve", applications_in(setup.url, "approval"), setup.secretaries
        )
        reads = [
            ("GET", f"/api/v1/applications/{n}", setup.citizens[applicant], None)
            for n, _v, _b, applicant in applications_in(setup.url)[:5000]
        ]
        run.load("get-warm", reads, 2)
        figures[GET] = run.load("get", reads, args.seconds)
        me = [("GET", "/api/v1/me", token, None) for token in citizens[:200] + list(setup.clerks.values())]
        run.load("me-warm", me, 2)
        figures[ME] = run.load("me", me, args.seconds)
        figures[HEALTHZ] = run.load("healthz", [("GET", "/healthz", None, None)], args.seconds)
    finally:
        proc.terminate()
        proc.wait(30)
    return Measured(layout, figures, seconds)


MIX, HOT = "submit: state-wide mix", "submit: one body, one service"
FORWARD, APPROVE = "officer: forward", "officer: approve (certificate)"
GET, ME, HEALTHZ = "GET application", "GET /api/v1/me", "GET /healthz"


def report(setup: Setup, tmp: Path, args: argparse.Namespace) -> None:
    layouts: list[tuple[int | None, int | None]] = [(args.workers, args.threads)]
    if args.layouts:
        layouts = [(int(w), int(t)) for w, t in (item.split("x") for item in args.layouts.split(","))]
    results = []
    for workers, threads in layouts:
        results.append(measure(setup, tmp, args, workers, threads))
        # as it goes, so a long comparison that fails later still shows what it measured
        shown = ", ".join(f"{name} {load.rps:.0f}/s ({load.server_ms:.2f} cpu ms)" for name, load in results[-1].figures.items())
        print(f"measured {results[-1].layout}: {shown}", file=sys.stderr, flush=True)
    assert setup.rows is not None
    submission_rows, forward_rows, approve_rows = setup.rows
    rows = {"submission": round(submission_rows), "forward": forward_rows, "approve": approve_rows}
    references = {n: pgbench(n, args.seconds, args.connections) for n in sorted(set(rows.values()))}
    ratio_of = {MIX: "submission", HOT: "submission", FORWARD: "forward", APPROVE: "approve"}

    print(f"\nPostgreSQL at {PG_ADMIN.rsplit('@', 1)[-1]}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"wrk: {WRK_THREADS} threads, {args.connections} connections, {args.seconds} s per figure")
    print(
        f"state-wide mix: {len(setup.bodies)} local bodies of Kerala ({len(setup.bodies) - setup.generated} from the pack, "
        f"{setup.generated} generated), {len(_services())} services, {len(setup.citizens)} citizens; "
        f"one body, one service: {setup.bodies[0]}, {next(iter(_services()))}"
    )
    print(
        f"rows written (all tables): submission {submission_rows:.1f} (mean of the services), "
        f"forward {forward_rows}, approve {approve_rows}; applications made: {len(applications_in(setup.url))}"
    )
    for result in results:
        figures = result.figures
        print(f"\nserver: {result.layout}")
        print(
            f"{'':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}{'cpu ms':>8}{'db ms':>7}   {'reference':<28}{'ratio':>7}"
        )
        for name, load in figures.items():
            reference, ratio = "", None
            if name in ratio_of:
                n = rows[ratio_of[name]]
                reference, ratio = f"pgbench {n} inserts/txn {references[n]:.0f}", load.rps / references[n]
            elif name == ME:
                reference, ratio = f"/healthz {figures[HEALTHZ].rps:.0f}", load.rps / figures[HEALTHZ].rps
            note = f"  ({result.seconds[name]} s)" if name in result.seconds else ""
            shown = f"{ratio:.3f}" if ratio is not None else ""
            print(
                f"{name:<32}{load.rps:>9.0f}{load.p50:>9.2f}{load.p99:>9.2f}{load.failed:>8}{load.server_ms:>8.2f}"
                f"{load.database_ms:>7.2f}   {reference:<28}{shown:>7}{note}"
            )
    print()
    for n, tps in references.items():
        print(
            f"{'pgbench ' + str(n) + ' inserts/txn':<32}{tps:>9.0f}  transactions/s, {args.connections} clients (server stopped)"
        )
    if len(results) > 1:
        names = [MIX, HOT, FORWARD, APPROVE, GET, ME, HEALTHZ]
        print(f"\n{'req/s by layout':<44}" + "".join(f"{n.split(':')[-1].strip()[:10]:>11}" for n in names))
        for result in results:
            print(f"{result.layout:<44}" + "".join(f"{result.figures[n].rps:>11.0f}" for n in names))
    if any(load.failed for result in results for load in result.figures.values()):
        errors = [line for line in (tmp / "server.log").read_text(encoding="utf-8", errors="replace").splitlines() if line]
        print("\nsome requests failed (non-2xx or timed out); the server log's last lines:", *errors[-15:], sep="\n  ")
    print(
        "\ncpu ms: CPU time of the server's processes per request; db ms: of the PostgreSQL backends serving it. "
        "On a shared machine these move less than req/s does."
    )
    print(
        "targets (issue 11): submissions / pgbench >= 0.1 (design: 0.5); officer actions twice the first "
        "baseline; /api/v1/me / /healthz >= 0.5"
    )


def server_layout(proc: subprocess.Popen[bytes], threads: int | None) -> str:
    """What the server runs as: its processes (uvicorn's spawned children, or itself) and threads."""
    found = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "spawn_main"], capture_output=True, text=True, check=False)
    processes = len(found.stdout.split()) or 1
    shown = threads if threads is not None else "the default"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"nagara serve, {processes} process(es) x {shown} threads, {loop}, {http}"


if __name__ == "__main__":
    main()
