"""``nagara analytics ...``: recompute the rollups from the records."""

from __future__ import annotations

from typing import Annotated

import typer

from nagara.command import Output, open_runtime

analytics_app = typer.Typer(no_args_is_help=True, help="Service-level rollups: rebuild them from the records.")
out = Output()


@analytics_app.command("rebuild")
def rebuild(
    batch: Annotated[int, typer.Option(min=1, max=10000, help="Applications per transaction")] = 1000,
) -> None:
    """Empty the rollups and fold every submitted application again (the worker may keep running)."""
    from nagara.analytics import rollups

    rt = open_runtime()
    with rt.db.unit_of_work() as session:
        rollups.clear(session)
    done, after = 0, ""
    while True:
        with rt.db.unit_of_work() as session:
            count, last = rollups.fold_batch(session, after=after, batch=batch)
        if last is None:
            break
        done, after = done + count, last
    out.print(f"rollups rebuilt from {done} submitted application(s)")
