"""``nagara ai ...``: train a state's assistants and ask them, from the command line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from nagara.command import err, open_runtime

ai_app = typer.Typer(no_args_is_help=True, help="The assistants: train grievance triage, ask it for a suggestion.")


@ai_app.command("train")
def train(
    state: Annotated[str, typer.Argument(help="The state's code (kl)")],
    pack: Annotated[Path | None, typer.Option(help="The state's pack folder; default: NAGARA_PACKS_DIR/<state>")] = None,
) -> None:
    """Train triage on the pack's examples and every officer's label in the state, and store the model."""
    from nagara.ai import service
    from nagara.ai.triage import TriageDataError

    rt = open_runtime()
    folder = pack or rt.settings.packs_dir / state
    try:
        with rt.db.unit_of_work() as session:
            trained = service.train_triage(session, state, folder)
    except (service.AssistantOff, TriageDataError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if trained.version == service.OFF:
        typer.echo(f"off: triage is turned off for {state} by its pack; suggestions stop")
        return
    counts = ", ".join(f"{n} {language}" for language, n in sorted(trained.examples.items()))
    typer.echo(f"{'trained' if trained.new else 'unchanged'}: triage {trained.version} for {state} from {counts}")


@ai_app.command("suggest")
def suggest(
    state: Annotated[str, typer.Argument(help="The state's code (kl)")],
    text: Annotated[str, typer.Argument(help="A complaint, in any language the state's pack has examples in")],
) -> None:
    """Print the triage suggestion for a complaint as JSON (recorded like any other suggestion)."""
    from nagara.ai import service

    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as session:
            suggestion_id, suggestion = service.suggest_triage(session, state, text, subject="cli")
    except service.AssistantOff as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"id": suggestion_id, **asdict(suggestion)}, ensure_ascii=False, indent=2))
