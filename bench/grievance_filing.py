"""What the assistants add to filing a grievance: the request timed with triage off and on.

Run: ``.venv/bin/python bench/grievance_filing.py [--runs 200] [--open 50] [--postgres]``.

A fresh database (SQLite in a temporary folder, or a PostgreSQL database created for the run and
dropped after), Kerala's pack loaded, ``--open`` open public grievances of one category in one ward
(the most the duplicate detector compares), and the app in process (FastAPI's TestClient: no
network, the whole request otherwise). Each request files a new grievance in that category:

- API: ``POST /api/v1/tenants/<body>/grievances`` (a bearer token). With triage on, the filing's
  transaction also suggests a category (language identification, features, scores, reasons) and
  writes the suggestion and the grievance's triage row.
- page, asked: the citizen's form posted without ``file_anyway``: with triage on, the duplicate
  detector compares the text with the open grievances first, and the page asks "is it one of these?"
  when some match (nothing is filed then); with triage off it files at once.
- page, filed: the form posted with ``file_anyway`` (triage, no duplicate check).

Phases run off, on, off again (the second "off" shows how much the machine drifted); each prints p50
and p99 in milliseconds over ``--runs`` requests after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "nagara_bench_grievance_filing"
TEXTS = [
    "Waste not collected near Pallikkunnu temple for a week",
    "പള്ളിക്കുന്ന് അമ്പലത്തിനടുത്ത് മാലിന്യം എടുത്തിട്ടില്ല",
    "Garbage heap near the fish market, nobody collects it",
    "kachra nahi utha bus stand ke paas do hafte se",
    "ಬಸ್ ನಿಲ್ದಾಣದ ಬಳಿ ಕಸ ಸಂಗ್ರಹಿಸಿಲ್ಲ",
]


def pct(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def timed(fn: Callable[[int], object], runs: int) -> tuple[float, float]:
    for i in range(5):
        fn(-1 - i)
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return pct(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--open", type=int, default=50, help="open grievances of the category in the ward")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from nagara.ai import triage as tr
    from nagara.ai.models import TRIAGE, AiModel
    from nagara.app import create_app
    from nagara.domains import load_all
    from nagara.grievances import service
    from nagara.identity import service as identity
    from nagara.identity.deps import csrf_token_for
    from nagara.identity.models import RoleAssignment, User
    from nagara.kit.access import Principal
    from nagara.kit.db import utcnow
    from nagara.kit.migrate import upgrade
    from nagara.kit.settings import Settings
    from nagara.runtime import build_runtime
    from nagara.tenancy.models import Ward
    from nagara.tenancy.packs import read_pack
    from nagara.tenancy.service import load_pack

    load_all()
    admin = None
    if args.postgres:
        admin = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{DB}"'))
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{DB}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        var = Path(tempfile.mkdtemp())
        rt = build_runtime(Settings(env="test", database_url=url, var_dir=var, worker_embedded=False, log_json=False, log_level="WARNING"))
        with rt.db.unit_of_work() as s:
            load_pack(s, read_pack(ROOT / "packs" / "kl"))
        with rt.db.unit_of_work() as s:
            ward = s.execute(select(Ward.local_body_code, Ward.number).order_by(Ward.local_body_code, Ward.number).limit(1)).first()
            assert ward is not None, "Kerala's pack has no local body with wards"
            body, ward_number = ward
            number = identity.normalise_mobile("9847012345")
            citizen = User(
                kind="citizen",
                state_code="kl",
                mobile_index=identity.mobile_index(rt, "kl", number),
                mobile_sealed=rt.cipher.encrypt(number, context="mobile"),
            )
            s.add(citizen)
            s.flush()
            s.add(RoleAssignment(user_id=citizen.id, state_code="kl", role_code="citizen"))
            s.flush()
            bearer = identity.issue_token(s, citizen, "bearer")
            session_raw = identity.issue_token(s, citizen, "session")
            citizen_id = citizen.id
        with rt.db.unit_of_work() as s:
            who: Principal = identity.load_principal(s, s.get(User, citizen_id), "bearer")  # type: ignore[arg-type]
            for i in range(args.open):
                filing = service.Filing(
                    body, "waste-not-collected", f"{TEXTS[i % len(TEXTS)]} (report {i})", service.Where(ward_number, "Temple road"),
                    {"waste_kind": "household"},
                )  # fmt: skip
                service.file(s, who, filing, now=utcnow(), channel="portal")
        config = tr.read_config(ROOT / "packs" / "kl")
        assert config is not None
        model = tr.train(tr.read_examples(ROOT / "packs" / "kl", config), config)

        app = create_app(runtime=rt, start_worker=False)
        with TestClient(app, base_url="https://testserver") as client:
            client.cookies.set(rt.settings.session_cookie, session_raw)
            csrf = csrf_token_for(rt, session_raw)
            headers = {"Authorization": f"Bearer {bearer}"}

            def api(i: int) -> object:
                body_json = {
                    "category": "waste-not-collected",
                    "description": f"{TEXTS[i % len(TEXTS)]} near house {i}",
                    "ward": ward_number,
                    "attributes": {"waste_kind": "household"},
                }
                r = client.post(f"/api/v1/tenants/{body}/grievances", json=body_json, headers=headers)
                assert r.status_code == 201, r.text
                return r

            def page(anyway: bool) -> Callable[[int], object]:
                def post(i: int) -> object:
                    data = {
                        "csrf_token": csrf,
                        "description": TEXTS[i % len(TEXTS)],
                        "ward": str(ward_number),
                        "address": "Temple road",
                        "attr-waste_kind": "household",
                    }
                    if anyway:
                        data["file_anyway"] = "1"
                    r = client.post(f"/grievances/{body}/new/waste-not-collected", data=data, follow_redirects=False)
                    assert r.status_code in (200, 303), r.text
                    return r

                return post

            def phase(name: str) -> None:
                for label, fn in (("API", api), ("page, asked", page(False)), ("page, filed", page(True))):
                    p50, p99 = timed(fn, args.runs)
                    print(f"  {name:<12} {label:<12} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")

            engine_name = "PostgreSQL" if args.postgres else "SQLite"
            print(f"{engine_name}, {args.open} open grievances of the category in the ward, {args.runs} requests each")
            phase("triage off")
            with rt.db.unit_of_work() as s:
                s.add(AiModel(state_code="kl", task=TRIAGE, version=model.version, examples=model.trained_on, model=model.to_bytes()))
            phase("triage on")
            with rt.db.unit_of_work() as s:
                s.query(AiModel).delete()  # no model: triage off again
            phase("off again")
        rt.db.dispose()
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
