"""A child process for crash tests: ``python -m tests.worker.child URL MODE KEY [FLAG]``.

``enqueue-and-die``: commit a change with its job, then die before any worker runs.
``work-and-die``: claim with the default lease and run the job, which kills the process.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from nagara.audit import service as audit
from nagara.domains import load_all
from nagara.kit.settings import Settings
from nagara.runtime import build_runtime
from nagara.worker.registry import enqueue
from nagara.worker.runner import Worker
from tests.worker import jobs  # noqa: F401 - registers the handlers


def main() -> None:
    url, mode, key = sys.argv[1:4]
    load_all()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=Path(tempfile.mkdtemp()), worker_embedded=False))
    if mode == "enqueue-and-die":
        with rt.db.unit_of_work() as session:
            audit.record(session, "test.change", entity_id=key)
            enqueue(session, "test.record", {"key": key})
        os._exit(9)
    if mode == "work-and-die":
        worker = Worker(rt.db, worker_id="doomed")
        worker.run_until_idle()
        sys.exit("the job should have killed this process")


if __name__ == "__main__":
    main()
