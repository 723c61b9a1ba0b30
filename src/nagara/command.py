"""What every ``nagara`` command shares, the domains' own sub-commands (``nagara ledger ...``) too:
settings that stop the command with a message, and the runtime a command opens.

It sits below the domains so that their sub-commands import it downward. ``nagara.cli`` loads
every domain before a command runs and calls :func:`close_runtimes` when the command ends.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer
from rich.console import Console, ConsoleDimensions

from nagara.kit import context
from nagara.kit.settings import InsecureProductionSettings, Settings, load_settings

if TYPE_CHECKING:
    from nagara.runtime import Runtime

err = Console(stderr=True)


class Output(Console):
    """Standard output: as wide as the terminal, and never cut or wrapped when piped or captured.

    Rich takes 80 columns when the output is not a terminal, so ``nagara users list | grep``
    saw local-body codes and ids cut to ``kl.tvm…``.
    """

    @property  # type: ignore[misc]  # rich's size can be set; nothing here sets it
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(10_000, 25)

_OPENED: list[Runtime] = []


def settings_or_exit() -> Settings:
    """The settings, or exit 2 saying which one is wrong."""
    try:
        return load_settings()
    except (InsecureProductionSettings, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def open_runtime(settings: Settings | None = None) -> Runtime:
    """The runtime of this command, acting as the system from the command line; closed when the command ends."""
    from nagara.runtime import build_runtime  # start-up time: `nagara --help` does not load the database stack

    context.set_context(context.ActorContext(actor_kind="system", via="cli", request_id=f"cli-{os.getpid()}"))
    runtime = build_runtime(settings or settings_or_exit())
    _OPENED.append(runtime)
    return runtime


def close_runtimes() -> None:
    """Close the database connections the command opened."""
    while _OPENED:
        _OPENED.pop().db.dispose()
