"""Benchmark: the officer's reads (inbox, search, falls-due) as applications grow, on PostgreSQL.

Run: ``.venv/bin/python bench/reads.py [--sizes 1000,100000,1000000] [--seconds 5] [--connections 8]``.

It prepares a fresh database (migrated, packs loaded), then grows the applications table
to each size in turn and loads every endpoint with wrk at that size. The rows are made
the way the platform makes them, only faster (COPY and INSERT ... SELECT): applications
spread over 57 Kerala local bodies and every service they offer, 5% open (held by the role
of the service's first step, due from five days ago to ten days ahead), the rest decided;
the form sealed with the application's id as context (it decrypts), the keyed hashes of
the applicant's name and mobile number in ``application_search_terms``, about four history
rows each, and the register counters set past the numbers used.

Because these machines are shared and noisy, each size is printed beside references
measured in the same run: ``/healthz`` (the same HTTP stack, no database work) and pgbench
running a primary-key SELECT of one application. The last column is each endpoint's cost
per request as a multiple of ``/healthz``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text

from read_endpoint import PG_ADMIN, free_port, load_python, load_wrk, pgbench_tps

ROOT = Path(__file__).resolve().parents[1]
DB = "nagara_reads"
BODIES = 57
CITIZENS = 10_000
NAMES = ["Anjali", "Lakshmi", "Mary", "Joseph", "Fathima", "Arun", "Deepa", "Suresh", "Ramesh", "Priya", "Nisha", "Manoj"]
SURNAMES = ["Menon", "Nair", "Pillai", "Kurian", "Thomas", "Varghese", "Iyer", "Das", "Rahman", "Krishnan", "George"]


def _copy(conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows (None as NULL) into a table through psycopg's copy protocol."""
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class World:
    """The database being grown: its bodies, services, officer, citizens and how many applications it has."""

    def __init__(self, url: str, var_dir: Path) -> None:
        from nagara.domains import load_all
        from nagara.kit.migrate import upgrade
        from nagara.kit.settings import Settings
        from nagara.runtime import build_runtime
        from nagara.tenancy.packs import discover, read_pack
        from nagara.tenancy.service import load_pack

        load_all()
        self.rt = build_runtime(Settings(env="test", database_url=url, var_dir=var_dir, worker_embedded=False))
        upgrade(self.rt.db.engine)
        with self.rt.db.unit_of_work() as s:
            for d in discover(ROOT / "packs"):
                load_pack(s, read_pack(d))
        self.count = 0
        self.counters: dict[str, int] = {}
        self._more_bodies()
        self._catalogue()
        self._people()

    def _more_bodies(self) -> None:
        """Grama panchayats for the benchmark only, copied from one of the pack's, until Kerala has enough that offer services."""
        with self.rt.db.engine.begin() as c:
            offering = c.scalar(
                text(
                    "SELECT count(*) FROM local_bodies WHERE state_code = 'kl' AND type IN ('corporation', 'municipality', 'grama_panchayat')"
                )
            )
            for n in range(1, max(0, BODIES - int(offering or 0)) + 1):
                c.execute(
                    text(
                        "INSERT INTO local_bodies (code, state_code, district_code, lgd_code, type, local_type_name, name, parent_code, overrides) "
                        "SELECT :code, state_code, district_code, NULL, type, local_type_name, CAST(:name AS json), parent_code, CAST('{}' AS json) "
                        "FROM local_bodies WHERE state_code = 'kl' AND type = 'grama_panchayat' ORDER BY code LIMIT 1"
                    ),
                    {
                        "code": f"kl.bench-{n:02d}-gp",
                        "name": json.dumps({"en": f"Bench panchayat {n}", "ml": f"Bench panchayat {n}"}),
                    },
                )

    def _catalogue(self) -> None:
        from sqlalchemy import select

        from nagara.catalog.models import ServiceVersion
        from nagara.tenancy.models import LocalBody

        with self.rt.db.unit_of_work(readonly=True) as s:
            bodies = list(
                s.execute(
                    select(LocalBody.code, LocalBody.type)
                    .where(LocalBody.state_code == "kl", LocalBody.type.in_(("corporation", "municipality", "grama_panchayat")))
                    .order_by(LocalBody.code)
                )
            )
            versions = list(
                s.scalars(
                    select(ServiceVersion)
                    .where(ServiceVersion.state_code == "kl", ServiceVersion.is_current.is_(True))
                    .order_by(ServiceVersion.code)
                )
            )
            self.bodies = [(code, kind) for code, kind in bodies][:BODIES]
            self.services: list[dict[str, Any]] = []
            for v in versions:
                wf = v.definition["workflow"]
                finals = [(name, st["outcome"]) for name, st in wf["states"].items() if st.get("final")]
                if not finals:
                    continue
                self.services.append(
                    {
                        "code": v.code,
                        "short": v.definition["short"],
                        "version_id": v.id,
                        "offered_by": set(v.definition["offered_by"]),
                        "start": wf["start"],
                        "role": wf["states"][wf["start"]]["role"],
                        "finals": finals,
                    }
                )
        # the officer works at the first body, in the role that holds the most services' first steps
        roles = [svc["role"] for svc in self.services if self.bodies[0][1] in svc["offered_by"]]
        self.role = max(set(roles), key=roles.count)

    def _people(self) -> None:
        from nagara.applications.search import MOBILE, name_digests
        from nagara.identity import service as identity
        from nagara.kit.db import new_id

        cipher = self.rt.cipher
        with self.rt.db.unit_of_work() as s:
            officer = identity.create_officer(
                s,
                None,
                state_code="kl",
                username="reads.officer",
                name="Reads",
                password="bench-password-1",
                role=self.role,
                place=identity.Place("kl", self.bodies[0][0]),
            ).user
            self.token = identity.issue_token(s, officer, "bearer", label="bench")
        now = datetime.now(UTC)
        self.citizens: list[tuple[str, list[str]]] = []  # id, the digests an application of theirs is found by
        users, grants = [], []
        for i in range(CITIZENS):
            uid = new_id()
            mobile = f"+9194{i:08d}"
            name = f"{NAMES[i % len(NAMES)]} {SURNAMES[(i // len(NAMES)) % len(SURNAMES)]}"
            users.append(
                (
                    uid,
                    "citizen",
                    "kl",
                    None,
                    identity.mobile_index(self.rt, "kl", mobile),
                    cipher.encrypt(mobile, context="mobile"),
                    cipher.encrypt(name, context="name"),
                    "en",
                    True,
                    now,
                    now,
                )
            )
            grants.append((new_id(), uid, "kl", "citizen", now))
            digests = sorted(name_digests(cipher, name) | {cipher.blind_index(mobile, purpose=MOBILE)})
            self.citizens.append((uid, digests))
        raw = self.rt.db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            _copy(
                conn,
                "users",
                [
                    "id",
                    "kind",
                    "state_code",
                    "username",
                    "mobile_index",
                    "mobile_sealed",
                    "name_sealed",
                    "language",
                    "is_active",
                    "created_at",
                    "updated_at",
                ],
                users,
            )
            _copy(conn, "role_assignments", ["id", "user_id", "state_code", "role_code", "created_at"], grants)
            conn.commit()
        finally:
            raw.close()
        self.sample_name = NAMES[3]  # a name many applications carry
        self.sample_mobile = "+919400000007"

    def grow(self, target: int) -> float:
        """Add applications (with terms and history) until there are ``target``; returns the seconds it took."""
        from nagara.kit.db import new_id
        from nagara.kit.numbers import register_number, register_prefix

        started = time.perf_counter()
        cipher = self.rt.cipher
        now = datetime.now(UTC)
        rng = random.Random(self.count)
        raw = self.rt.db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            while self.count < target:
                batch = min(50_000, target - self.count)
                apps, terms = [], []
                for i in range(self.count, self.count + batch):
                    body, kind = self.bodies[i % len(self.bodies)]
                    offered = [svc for svc in self.services if kind in svc["offered_by"]]
                    svc = offered[(i // len(self.bodies)) % len(offered)]
                    prefix = register_prefix(body, svc["short"], now.year)
                    self.counters[prefix] = self.counters.get(prefix, 0) + 1
                    number = register_number(prefix, self.counters[prefix])
                    applicant, digests = self.citizens[i % len(self.citizens)]
                    app_id = new_id()
                    created = now - timedelta(days=365) + timedelta(seconds=i * 30 % (365 * 86400))
                    is_open = i % 20 == 0
                    if is_open:
                        state, outcome, role = svc["start"], None, svc["role"]
                        due: datetime | None = now + timedelta(hours=rng.uniform(-120, 240))
                        decided = None
                    else:
                        state, outcome = svc["finals"][i % len(svc["finals"])]
                        role, due, decided = None, None, created + timedelta(days=3)
                    data = json.dumps({"applicant_name": "x", "ward": 1 + i % 20})
                    apps.append(
                        (
                            app_id,
                            number,
                            "kl",
                            body,
                            None,
                            svc["code"],
                            svc["version_id"],
                            applicant,
                            applicant,
                            None,
                            cipher.encrypt(data, context=f"application:{app_id}"),
                            state,
                            is_open,
                            outcome,
                            1,
                            role,
                            None,
                            created,
                            due,
                            False,
                            created,
                            created + timedelta(days=7),
                            False,
                            None,
                            decided,
                            0,
                            "[]",
                            0,
                            False,
                            4,
                            0,
                            created,
                            decided or created,
                        )
                    )
                    terms.extend((app_id, d) for d in digests)
                _copy(
                    conn,
                    "applications",
                    [
                        "id",
                        "number",
                        "state_code",
                        "local_body_code",
                        "ward_code",
                        "service_code",
                        "service_version_id",
                        "applicant_id",
                        "filed_by_id",
                        "consent_at",
                        "data_sealed",
                        "state",
                        "is_open",
                        "outcome",
                        "version",
                        "assigned_role",
                        "assigned_to_id",
                        "state_entered_at",
                        "state_due_at",
                        "state_escalated",
                        "submitted_at",
                        "service_due_at",
                        "service_breached",
                        "paused_at",
                        "decided_at",
                        "appeal_level",
                        "fee_lines",
                        "fee_total",
                        "fee_paid",
                        "last_seq",
                        "breach_count",
                        "created_at",
                        "updated_at",
                    ],
                    apps,
                )
                _copy(conn, "application_search_terms", ["application_id", "digest"], terms)
                ids = [row[0] for row in apps]
                with conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO application_history (id, application_id, seq, at, action, from_state, to_state, actor_role) "
                        "SELECT gen_random_uuid()::text, a.id, g.seq, a.created_at + g.seq * interval '1 hour', "
                        "(ARRAY['create','submit','forward','decide'])[g.seq], NULL, a.state, 'section_clerk' "
                        "FROM applications a CROSS JOIN generate_series(1, 4) AS g(seq) WHERE a.id = ANY(%s)",
                        (ids,),
                    )
                conn.commit()
                self.count += batch
                print(f"  {self.count:>9,} applications ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
            with conn.cursor() as cur:
                cur.execute("DELETE FROM number_counters WHERE prefix = ANY(%s)", (list(self.counters),))
                conn.commit()
            _copy(conn, "number_counters", ["prefix", "last"], sorted(self.counters.items()))
            conn.commit()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("VACUUM ANALYZE applications")
                cur.execute("VACUUM ANALYZE application_search_terms")
                cur.execute("VACUUM ANALYZE application_history")
            conn.autocommit = False
        finally:
            raw.close()
        return time.perf_counter() - started

    def samples(self) -> dict[str, str]:
        """An application of the officer's body, a prefix matching many of its numbers, a name and a mobile."""
        with self.rt.db.engine.connect() as c:
            number, app_id = c.execute(
                text("SELECT number, id FROM applications WHERE local_body_code = :b ORDER BY created_at DESC LIMIT 1"),
                {"b": self.bodies[0][0]},
            ).one()
        return {
            "number": number,
            "id": app_id,
            "prefix": number[: len(number) - 3],
            "name": self.sample_name,
            "name_ml": "ജോസഫ്",  # the same name as it sounds, written in Malayalam: found by the sound's hash
            "mobile": self.sample_mobile,
        }


def serve(url: str, var_dir: Path, port: int, threads: int) -> subprocess.Popen[bytes]:
    """``nagara serve`` on ``port``, once it answers /readyz (a loaded machine may take a minute to start it)."""
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
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not become ready in 3 minutes")


def _items(url: str, headers: dict[str, str]) -> int:
    """How many applications one response shows (-1 for a response that is not a list of them)."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict) and "buckets" in body:
        return sum(len(b["applications"]) for b in body["buckets"])
    return 1 if isinstance(body, dict) and "number" in body else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="NAGARA_THREADS for the server")
    args = parser.parse_args()
    load = load_wrk if shutil.which("wrk") else load_python
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB
    tmp = Path(tempfile.mkdtemp(prefix="nagara-reads-"))
    world = World(url, tmp)
    auth = {"Authorization": f"Bearer {world.token}"}
    print(
        f"load: {'wrk' if load is load_wrk else 'python threads'}, {args.connections} connections, {args.seconds}s per figure; "
        f"1 server process with {args.threads} threads; {os.cpu_count()} cores; {len(world.bodies)} local bodies x "
        f"{len(world.services)} services; officer: {world.role} at {world.bodies[0][0]}"
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, dict[int, tuple[float, float, float]]] = {}
    shown: dict[str, dict[int, int]] = {}  # items one response shows, by endpoint and size
    for size in sizes:
        seconds = world.grow(size)
        print(f"{size:,} applications ready in {seconds:.0f}s", file=sys.stderr)
        s = world.samples()
        endpoints = {
            "/healthz": ("/healthz", {}),
            "GET /api/v1/inbox (50)": ("/api/v1/inbox?limit=50", auth),
            "GET /api/v1/applications/{number}": (f"/api/v1/applications/{s['number']}", auth),
            "search by full number (1)": (f"/api/v1/applications?number={s['number']}", auth),
            "search by number prefix (50)": (f"/api/v1/applications?number={s['prefix']}&limit=50", auth),
            "search by name (50)": (f"/api/v1/applications?name={s['name']}&limit=50", auth),
            "search by name in Malayalam (50)": (f"/api/v1/applications?name={quote(s['name_ml'])}&limit=50", auth),
            "search by mobile": (f"/api/v1/applications?mobile={s['mobile'].replace('+', '%2B')}", auth),
            "list, newest first (50)": ("/api/v1/applications?limit=50", auth),
            "GET /api/v1/inbox/falls-due": ("/api/v1/inbox/falls-due", auth),
        }
        port = free_port()
        proc = serve(url, tmp, port, args.threads)
        try:
            base = f"http://127.0.0.1:{port}"
            for name, (path, headers) in endpoints.items():
                shown.setdefault(name, {})[size] = _items(base + path, headers)
                load(base + path, headers, 1, args.connections)  # warm up
                table.setdefault(name, {})[size] = load(base + path, headers, args.seconds, args.connections)
        finally:
            proc.terminate()
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        script = tmp / "pk.sql"
        script.write_text(f"SELECT number, state, state_due_at FROM applications WHERE id = '{s['id']}';\n", encoding="utf-8")
        table.setdefault("pgbench primary-key SELECT", {})[size] = (
            pgbench_tps(script, DB, args.seconds, args.connections),
            0.0,
            0.0,
        )

    head = " | ".join(f"10^{len(str(n)) - 1}" if str(n).strip("0") == "1" else f"{n:,}" for n in sizes)
    print(f"\n| endpoint (items) | {head} |")
    print("|---" * (len(sizes) + 1) + "|")
    for name, by_size in table.items():
        cells = []
        for n in sizes:
            rps, _p50, p99 = by_size[n]
            if name.startswith("pgbench"):
                cells.append(f"{rps:,.0f} tx/s")
            elif name == "/healthz":
                cells.append(f"{rps:,.0f} req/s")
            else:
                if rps == 0:  # no request finished within the window (a loaded machine)
                    cells.append("none finished")
                    continue
                ratio = table["/healthz"][n][0] / rps
                items = shown.get(name, {}).get(n, -1)
                returned = f", {items} shown" if items >= 0 else ""
                cells.append(f"{rps:,.0f} req/s, p99 {p99:.0f} ms ({ratio:.1f}x){returned}")
        print(f"| {name} | {' | '.join(cells)} |")
    print("\n(Nx): cost per request as a multiple of /healthz's in the same run (its req/s over the endpoint's);")
    print("N shown: the items one response held at that size (a small table fills fewer of a page's places)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
