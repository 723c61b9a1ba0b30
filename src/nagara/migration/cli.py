"""``nagara migrate plan|dry-run|run|report``: legacy registers brought in, every row accounted for."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nagara.command import Output, open_runtime

if TYPE_CHECKING:
    from nagara.migration.mapping import Mapping
    from nagara.migration.sources import Source

migrate_app = typer.Typer(
    no_args_is_help=True,
    help="Import a legacy register (births, deaths, marriages, property, trade licences, receipts) through a pack mapping.",
)

out = Output()
err = Console(stderr=True)

SourceArg = Annotated[Path, typer.Argument(help="The legacy export: CSV, JSON or a spreadsheet (XLSX, XLS, ODS)")]
MappingOpt = Annotated[Path, typer.Option("--mapping", "-m", help="The mapping, e.g. packs/kl/migrations/kl-sevana-births.yaml")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="csv, json or xlsx (default: from the file name)")]
EncodingOpt = Annotated[str | None, typer.Option("--encoding", help="A CSV's encoding when it has no BOM (default utf-8)")]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help="The spreadsheet's sheet (default: the first)")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per commit")]


def _open(source: Path, mapping: Path, fmt: str | None, encoding: str | None) -> tuple[Mapping, Source]:
    from nagara.migration.mapping import MappingError, load_mapping
    from nagara.migration.sources import SourceError, open_source

    try:
        return load_mapping(mapping), open_source(source, format=fmt, encoding=encoding)
    except (MappingError, SourceError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@migrate_app.command("plan")
def plan_command(
    source: SourceArg, mapping: MappingOpt, fmt: FormatOpt = None, encoding: EncodingOpt = None, sheet: SheetOpt = None
) -> None:
    """What a run would read: the source's columns against the mapping's, and what this node lacks."""
    from nagara.migration import service

    m, src = _open(source, mapping, fmt, encoding)
    runtime = open_runtime()
    with runtime.db.unit_of_work(readonly=True) as session:
        p = service.plan(session, m, src, sheet=sheet)
        previous = p.previous_run.id if p.previous_run else None
        previous_status = p.previous_run.status if p.previous_run else None
    out.print(f"register {m.register} ({m.title}), mapping {m.code}, state {m.state}", highlight=False, soft_wrap=True)
    out.print(
        f"source {src.path.name}: {src.format}, {src.encoding}, {src.size} bytes, sha256 {src.sha256}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"columns read: {', '.join(p.columns) or '(none)'}", highlight=False, soft_wrap=True)
    if p.unused_columns:
        out.print(f"columns the mapping does not use: {', '.join(p.unused_columns)}", highlight=False, soft_wrap=True)
    if previous:
        out.print(f"this file was imported before: run {previous} ({previous_status})", highlight=False, soft_wrap=True)
    for column in p.missing_columns:
        err.print(f"[red]missing column:[/red] {column}", highlight=False, soft_wrap=True)
    for problem in p.problems:
        err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
    if p.missing_columns or p.problems:
        raise typer.Exit(1)


def _print_tallies(groups: dict[str, dict[str, Any]], money: list[str]) -> bool:
    from nagara.migration.service import COUNTS, balanced, totals

    table = Table("local body", "year", *COUNTS, *(f"{m} (Rs)" for m in money), "balanced")
    for key in sorted(groups):
        g = groups[key]
        body, year = key.split("|")
        table.add_row(
            body,
            year,
            *(str(g[c]) for c in COUNTS),
            *(f"{g['money'].get(m, 0) / 100:.2f}" for m in money),
            "yes" if balanced(g) else "NO",
        )
    total = totals(groups)
    table.add_row(
        "all",
        "",
        *(str(total[c]) for c in COUNTS),
        *(f"{total['money'].get(m, 0) / 100:.2f}" for m in money),
        "yes" if balanced(total) else "NO",
    )
    out.print(table)
    ok = balanced(total)
    out.print(
        f"source rows {total['source']} = imported {total['imported']} + rejected {total['rejected']} "
        f"+ duplicate {total['duplicate']}: {'holds' if ok else 'DOES NOT HOLD'}",
        highlight=False,
        soft_wrap=True,
    )
    return ok


def _write_issues(path: Path, issues: list[tuple[int, str, str, str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "kind", "column", "reason"])
        writer.writerows(issues)


def _execute(
    source: Path,
    mapping: Path,
    fmt: str | None,
    encoding: str | None,
    sheet: str | None,
    batch_size: int,
    rejects: Path | None,
    *,
    dry_run: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from nagara.migration import service
    from nagara.migration.sources import SourceError, estimate_rows

    m, src = _open(source, mapping, fmt, encoding)
    runtime = open_runtime()
    total = estimate_rows(src)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("checking" if dry_run else "importing", total=total, rate="-")

        def on_progress(p: service.Progress) -> None:
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = f"{p.rows / elapsed:,.0f}" if elapsed > 0 else "-"
            progress.update(task, completed=p.committed_row, total=max(total, p.committed_row) if total else None, rate=rate)

        try:
            outcome = service.run(runtime, m, src, batch_size=batch_size, dry_run=dry_run, sheet=sheet, on_progress=on_progress)
        except (service.MigrationRefused, SourceError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    if outcome.resumed_from:
        out.print(f"resumed after row {outcome.resumed_from}", highlight=False)
    ok = _print_tallies(outcome.tally.groups, m.money_fields)
    if dry_run:
        out.print("dry run: nothing was written", highlight=False)
        if rejects is not None:
            _write_issues(rejects, outcome.issues)
            out.print(f"rejects and duplicates: {rejects}", highlight=False, soft_wrap=True)
    else:
        out.print(f"run {outcome.run_id}", highlight=False)
        if rejects is not None:
            _report_issues(outcome.run_id or "", rejects)
    if not ok:
        raise typer.Exit(1)


def _report_issues(run_id: str, path: Path) -> None:
    from nagara.migration import service

    runtime = open_runtime()
    with runtime.db.unit_of_work(readonly=True) as session:
        _write_issues(path, [(i.source_row, i.kind, i.column, i.reason) for i in service.issues_of(session, run_id)])
    out.print(f"rejects and duplicates: {path}", highlight=False, soft_wrap=True)


RejectsOpt = Annotated[
    Path | None, typer.Option("--rejects", help="Write the refused and duplicate rows (row, column, reason) to this CSV")
]


@migrate_app.command("dry-run")
def dry_run_command(
    source: SourceArg,
    mapping: MappingOpt,
    fmt: FormatOpt = None,
    encoding: EncodingOpt = None,
    sheet: SheetOpt = None,
    batch_size: BatchOpt = 5000,
    rejects: RejectsOpt = None,
) -> None:
    """Check every row as a run would, and write nothing."""
    _execute(source, mapping, fmt, encoding, sheet, batch_size, rejects, dry_run=True)


@migrate_app.command("run")
def run_command(
    source: SourceArg,
    mapping: MappingOpt,
    fmt: FormatOpt = None,
    encoding: EncodingOpt = None,
    sheet: SheetOpt = None,
    batch_size: BatchOpt = 5000,
    rejects: RejectsOpt = None,
) -> None:
    """Import (or resume importing) the source; a re-run of an imported file adds nothing."""
    _execute(source, mapping, fmt, encoding, sheet, batch_size, rejects, dry_run=False)


@migrate_app.command("report")
def report_command(
    run_id: Annotated[str | None, typer.Argument(help="The run (default: the latest)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the signed report as JSON here")] = None,
    rejects: RejectsOpt = None,
) -> None:
    """A run's reconciliation per body and year, its signature checked."""
    from nagara.migration import service

    runtime = open_runtime()
    with runtime.db.unit_of_work(readonly=True) as session:
        row = service.get_run(session, run_id) if run_id else service.latest_run(session)
        if row is None:
            err.print(f"[red]error:[/red] no migration run {run_id or ''}".rstrip(), highlight=False)
            raise typer.Exit(2)
        money = sorted({m for g in row.tallies.values() for m in g["money"]})
        out.print(
            f"run {row.id}: {row.register} from {row.source_name} (sha256 {row.source_sha256}), {row.status}",
            highlight=False,
            soft_wrap=True,
        )
        ok = _print_tallies(row.tallies, money)
        if row.status == "done":
            signed = service.verify_signature(runtime, row)
            out.print(
                f"report sha256 {row.report_sha256}: signature {'valid' if signed else 'INVALID'}; "
                f"on the ledger as migration/{row.id}",
                highlight=False,
                soft_wrap=True,
            )
            ok = ok and signed
        else:
            out.print(f"not finished: committed up to row {row.committed_row}; run it again to resume", highlight=False)
        if json_out is not None and row.report is not None:
            json_out.write_text(
                json.dumps({"report": row.report, "signature": json.loads(row.signature or "null")}, ensure_ascii=False, indent=2)
            )
        run_key = row.id
    if rejects is not None:
        _report_issues(run_key, rejects)
    if not ok:
        raise typer.Exit(1)
