"""Benchmark: the dashboards' queries and the open data API against the rollups, on PostgreSQL.

Run: ``.venv/bin/python bench/analytics.py [--applications 100000 1000000] [--bodies 1000] [--runs 50]``.

For each size it makes a fresh database (migrated, the Kerala pack loaded, ``--bodies`` extra
local bodies spread over Kerala's districts, 20 wards on one of them) and writes the rollup rows
that many applications fold into, straight into ``analytics_counts`` with one INSERT ... SELECT
over generate_series (each application: received; decided approved or rejected, within or past
the limit, with its days to decision; or open, by the day it falls due and the role holding it;
spread over 365 days, the bodies, 20 wards, 10 services and two channels). The applications
table itself is not generated: the dashboards never read it (that is what the rollups are for).
It then times, in process, ``analytics.service.dashboard`` for the state, a district, a body and
a ward over the last 90 days, and the CKAN ``package_search`` and ``datastore_search`` through
the app (TestClient), each beside a same-run reference: a primary-key read of one local body.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES = [f"bench-service-{i}" for i in range(10)]

FILL = """
INSERT INTO analytics_counts (local_body_code, day, ward_code, subject, channel, measure, bucket, state_code, district_code, value)
SELECT body, day, ward, subject, channel, measure, bucket, 'kl', district, count(*)
FROM (
  SELECT 'kl.bench-' || lpad((i % :bodies)::text, 4, '0') AS body,
         (CAST(:district_codes AS text[]))[1 + (i % :bodies) % :districts] AS district,
         CURRENT_DATE - (i % 365) AS received_day,
         CASE WHEN i % :bodies = 0 THEN 'kl.bench-0000.w' || lpad(((i / :bodies) % 20)::text, 2, '0') ELSE '' END AS ward,
         'bench-service-' || (i % 10) AS subject,
         CASE WHEN i % 7 = 0 THEN 'assisted' ELSE 'online' END AS channel,
         i
  FROM generate_series(1, :n) AS i
) AS a
CROSS JOIN LATERAL (VALUES
  (received_day, 'received', 0, true),
  (received_day + (i % 30), CASE WHEN i % 10 < 7 THEN 'decided:approved' ELSE 'decided:rejected' END, 0, i % 5 <> 0),
  (received_day + (i % 30), CASE WHEN i % 30 <= 15 THEN 'within_limit' ELSE 'past_limit' END, 0, i % 5 <> 0),
  (received_day + (i % 30), 'decision_days', i % 30, i % 5 <> 0),
  (received_day, 'open', 0, i % 5 = 0),
  (received_day + 15, 'open_due', 0, i % 5 = 0),
  (received_day + 3, 'open_role:section_clerk', 0, i % 5 = 0)
) AS m(day, measure, bucket, applies)
WHERE applies
GROUP BY body, day, ward, subject, channel, measure, bucket, district
"""


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def run(n: int, bodies: int, runs: int) -> None:
    from fastapi.testclient import TestClient

    from nagara.analytics import service
    from nagara.app import create_app
    from nagara.domains import load_all
    from nagara.kit.db import utcnow
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.runtime import build_runtime
    from nagara.tenancy.models import LocalBody
    from nagara.tenancy.packs import read_pack
    from nagara.tenancy.service import load_pack

    name = f"nagara_bench_analytics_{n}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    load_all()
    engine = create_engine(url)
    upgrade(engine)
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=Path(tempfile.mkdtemp()), log_json=False, log_level="WARNING"))
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(ROOT / "packs" / "kl"))
    with engine.begin() as c:
        districts = [r[0] for r in c.execute(text("SELECT code FROM districts WHERE state_code = 'kl' ORDER BY code"))]
        c.execute(
            text(
                "INSERT INTO local_bodies (code, state_code, district_code, type, name, overrides) "
                "SELECT 'kl.bench-' || lpad(i::text, 4, '0'), 'kl', (CAST(:d AS text[]))[1 + i % :nd], 'municipality', "
                "json_build_object('en', 'Bench ' || i), '{}'::json FROM generate_series(0, :b - 1) AS i"
            ).bindparams(d=districts, nd=len(districts), b=bodies)
        )
        c.execute(
            text(
                "INSERT INTO wards (code, local_body_code, number, name) SELECT 'kl.bench-0000.w' || lpad(i::text, 2, '0'), "
                "'kl.bench-0000', i, json_build_object('en', 'Ward ' || i) FROM generate_series(0, 19) AS i"
            )
        )
        started = time.perf_counter()
        c.execute(text(FILL), {"n": n, "bodies": bodies, "districts": len(districts), "district_codes": districts})
        c.execute(
            text(
                "INSERT INTO analytics_district_counts (district_code, day, subject, measure, bucket, state_code, value) "
                "SELECT district_code, day, subject, measure, bucket, min(state_code), sum(value) FROM analytics_counts "
                "GROUP BY district_code, day, subject, measure, bucket"
            )
        )
        filled = time.perf_counter() - started
        c.execute(text("ANALYZE analytics_counts"))
        c.execute(text("ANALYZE analytics_district_counts"))
        rows = c.execute(text("SELECT count(*) FROM analytics_counts")).scalar_one()
    print(f"\n{n:,} applications over {bodies:,} bodies: {rows:,} rollup rows (written in {filled:.1f} s)")
    today = utcnow().date()
    start = today - timedelta(days=89)
    with rt.db.unit_of_work(readonly=True) as s:
        places = {
            "state": service.find_place(s, "kl"),
            "district": service.find_place(s, districts[0]),
            "body": service.find_place(s, "kl.bench-0000"),
            "ward": service.find_place(s, "kl.bench-0000.w01"),
        }
    results = []

    def dash(place: service.Place) -> Callable[[], object]:
        def call() -> object:
            with rt.db.unit_of_work(readonly=True) as s:
                return service.dashboard(s, place, start, today, today)

        return call

    def pk_read() -> object:
        with rt.db.unit_of_work(readonly=True) as s:
            return s.get(LocalBody, "kl.bench-0042", populate_existing=True)

    results.append(("primary-key read (reference)", *timed(pk_read, runs * 4)))
    for level, place in places.items():
        results.append((f"dashboard, {level}, 90 days", *timed(dash(place), runs)))
    app = create_app(runtime=rt, start_worker=False)
    with TestClient(app) as client:
        results.append(("package_search q=service", *timed(lambda: client.get("/api/3/action/package_search", params={"q": "service"}), runs)))
        results.append(
            (
                "datastore_search 100 rows, one body",
                *timed(
                    lambda: client.get(
                        "/api/3/action/datastore_search",
                        params={"resource_id": "kl-service-levels-daily", "filters": '{"local_body": "kl.bench-0007"}', "limit": 100},
                    ),
                    runs,
                ),
            )
        )
        results.append(
            (
                "datastore_search 100 rows, whole state, offset 5000",
                *timed(
                    lambda: client.get(
                        "/api/3/action/datastore_search",
                        params={"resource_id": "kl-service-levels-daily", "limit": 100, "offset": 5000},
                    ),
                    max(5, runs // 5),
                ),
            )
        )
    for label, p50, p99 in results:
        print(f"  {label:<52} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    rt.db.dispose()
    engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applications", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--bodies", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    for n in args.applications:
        run(n, args.bodies, args.runs)


if __name__ == "__main__":
    main()
