"""Legacy register import throughput on PostgreSQL, beside ``COPY`` of the same rows in the same run.

    .venv/bin/python bench/migration.py [--rows 1000000] [--batch 5000]

Generates a Sevana-style birth register export (CSV, UTF-8 with a BOM, Windows line endings;
one row in ten is a duplicate, an impossible date, a missing name, Kannada in a Malayalam
column or an unknown body, as ``tests/migration/legacy.py`` makes them), then:

1. reference: ``COPY`` of the same file into a plain table of text columns (no checks, no index),
   through psycopg on one connection: the fastest the database takes these rows;
2. ``migration.service.run`` with the shipped mapping ``packs/kl/migrations/kl-sevana-births.yaml``,
   as ``nagara migrate run`` does it (every row checked, mapped, sealed, checksummed; batches
   committed with the run's tallies; records bulk-loaded with ``COPY``).

Prints rows per second of each and their ratio; the CPU seconds of each, client and server
(PostgreSQL's backends read from /proc: the server must run on this machine), which say what the
work cost when the machine is shared and wall time mostly says how busy it was; peak RSS and RSS sampled through the run (flat
means memory does not grow with the rows), and checks the reconciliation holds.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg  # the reference speaks to the driver directly
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.migration.legacy import BIRTH_COLUMNS, messy_births  # noqa: E402

from nagara.domains import load_all  # noqa: E402
from nagara.kit import migrate  # noqa: E402
from nagara.kit.db import make_engine  # noqa: E402
from nagara.kit.settings import Settings  # noqa: E402
from nagara.migration import service  # noqa: E402
from nagara.migration.mapping import load_mapping  # noqa: E402
from nagara.migration.sources import open_source  # noqa: E402
from nagara.runtime import build_runtime  # noqa: E402
from nagara.tenancy.packs import discover, read_pack  # noqa: E402
from nagara.tenancy.service import load_pack  # noqa: E402

PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "nagara_bench_migration"
MAPPING = ROOT / "packs" / "kl" / "migrations" / "kl-sevana-births.yaml"


def rss_mib() -> float:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to the bench database (the server
    runs on this machine): with the machine shared, CPU says what the work cost where wall time
    says how busy the machine was."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
        mine = conn.execute("SELECT pg_backend_pid()").fetchone()
    for pid in pids:
        if mine and pid == mine[0]:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # not visible from here (another host or namespace)
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def fresh_database() -> str:
    admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def write_source(path: Path, rows: int) -> None:
    """The export, written in slices so the generator's own memory stays small."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=BIRTH_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        done = 0
        while done < rows:
            n = min(100_000, rows - done)
            part, _ = messy_births(n, seed=done)
            for row in part:  # make the registration numbers unique across slices
                row["REGN_NO"] = f"{row['REGN_NO']}-{done // 100_000}"
            writer.writerows(part)
            done += n


def copy_reference(url: str, path: Path) -> tuple[float, float]:
    """Wall seconds of the COPY, and CPU seconds of this process and its backend during it."""
    columns = ", ".join(f"{c.lower()} text" for c in BIRTH_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE copy_reference ({columns})")
        server = backend_cpu(url)
        started, cpu_started = time.perf_counter(), time.process_time()
        sql = "COPY copy_reference FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
        with conn.cursor() as cur, path.open("rb") as f, cur.copy(sql) as copy:
            f.read(3)  # the BOM
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        cpu += cpu_since(server, backend_cpu(url))
        conn.execute("DROP TABLE copy_reference")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    load_all()
    url = fresh_database()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="test", database_url=url, var_dir=Path(tmp), packs_dir=ROOT / "packs", log_json=False)
        rt = build_runtime(settings)
        with rt.db.unit_of_work() as session:
            for directory in discover(ROOT / "packs"):
                load_pack(session, read_pack(directory))
        source_path = Path(tmp) / "births.csv"
        t0 = time.perf_counter()
        write_source(source_path, args.rows)
        print(f"generated {args.rows:,} rows ({source_path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")

        copy_seconds, copy_cpu = copy_reference(url, source_path)
        copy_rate = args.rows / copy_seconds
        print(
            f"reference COPY into a plain table: {copy_seconds:.2f} s, {copy_rate:,.0f} rows/s; "
            f"CPU (client and server) {copy_cpu:.2f} s, {args.rows / copy_cpu:,.0f} rows per CPU second"
        )

        samples: list[tuple[int, float]] = []
        next_sample = 0

        def on_progress(p: service.Progress) -> None:
            nonlocal next_sample
            if p.rows >= next_sample:
                samples.append((p.rows, rss_mib()))
                next_sample += max(args.rows // 10, 1)

        mapping, source = load_mapping(MAPPING), open_source(source_path)
        server = backend_cpu(url)
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = service.run(rt, mapping, source, batch_size=args.batch, on_progress=on_progress)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        server_cpu = cpu_since(server, backend_cpu(url))
        rate = args.rows / elapsed
        total = service.totals(outcome.tally.groups)
        print(
            f"nagara migrate run: {elapsed:.2f} s, {rate:,.0f} rows/s "
            f"(imported {total['imported']:,}, rejected {total['rejected']:,}, duplicate {total['duplicate']:,}; "
            f"invariant {'holds' if service.balanced(total) else 'FAILS'})"
        )
        print(f"ratio to COPY: {rate / copy_rate:.3f} (target 0.25)")
        # The machine may be shared: CPU seconds say what the work itself cost, whatever else ran.
        both = cpu + server_cpu
        print(
            f"CPU of the run: {cpu:.2f} s in this process, {server_cpu:.2f} s in PostgreSQL; "
            f"{args.rows / both:,.0f} rows per CPU second, ratio to COPY's {copy_cpu / both:.3f}"
        )
        print("RSS through the run (rows read: MiB): " + ", ".join(f"{n:,}: {m:.0f}" for n, m in samples))
        print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        rt.db.dispose()


if __name__ == "__main__":
    main()
