"""A child process for the ledger's kill test: ``python -m tests.ledger.child URL VAR_DIR MODE PREFIX``.

``append``: write entries in units of work, printing each subject only after its
unit of work committed (that line is the acknowledgement), until killed.
``integrate``: run the integrator over and over in small batches, until killed.

To run the test against applications instead (the issue's version), change
``acknowledged_write`` to submit an application through the API and print its
number after the 201 response: the parent only reads the printed lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session

from nagara.domains import load_all
from nagara.kit.db import try_single_runner
from nagara.kit.settings import Settings
from nagara.ledger import integrator, service
from nagara.runtime import Runtime, build_runtime
from tests.ledger.helpers import ORIGIN


def acknowledged_write(session: Session, subject: str) -> None:
    service.append(
        session,
        type="application.action",
        tenant_code="kl.tvm-corp",
        subject=subject,
        content={"subject": subject, "action": "forward"},
        actor_role="counter_clerk",
    )


def append_forever(rt: Runtime, prefix: str) -> None:
    n = 0
    while True:
        batch = [f"{prefix}-{n + i}" for i in range(1 + n % 3)]
        with rt.db.unit_of_work() as session:
            for subject in batch:
                acknowledged_write(session, subject)
        sys.stdout.write("".join(s + "\n" for s in batch))  # after commit: acknowledged
        sys.stdout.flush()
        n += len(batch)
        time.sleep(0.001 * (n % 3))  # paced like requests, so the integrator gets the SQLite write lock too


def integrate_forever(rt: Runtime) -> None:
    while True:
        result = None
        with rt.db.unit_of_work() as session:
            if try_single_runner(session, "ledger.integrate"):
                result = integrator.integrate(session, rt.settings, batch_size=25, max_seconds=0.05)
        if result is not None:
            sys.stdout.write(f"{result.size}\n")  # after commit: the tree size now published
            sys.stdout.flush()
        time.sleep(0.02)


def main() -> None:
    url, var_dir, mode, prefix = sys.argv[1:5]
    load_all()
    settings = Settings(env="test", database_url=url, var_dir=Path(var_dir), worker_embedded=False, ledger_origin=ORIGIN)
    rt = build_runtime(settings)
    if mode == "append":
        append_forever(rt, prefix)
    elif mode == "integrate":
        integrate_forever(rt)
    sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
