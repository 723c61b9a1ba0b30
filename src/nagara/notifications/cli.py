"""``nagara notifications test``: send a message through a configured channel, to see it arrive."""

from __future__ import annotations

from typing import Annotated

import typer

from nagara.command import Output, open_runtime

notifications_app = typer.Typer(no_args_is_help=True, help="Notifications: send a test message through a channel.")
out = Output()


@notifications_app.command("test")
def send_test(
    to: Annotated[str, typer.Argument(help="A mobile number (+91...) for sms and whatsapp, an e-mail address for email")],
    channel: Annotated[str, typer.Option(help="sms, email or whatsapp")] = "sms",
    state: Annotated[str, typer.Option(help="The state whose templates and SMS sender id are used")] = "kl",
    language: Annotated[str, typer.Option(help="The language of the text")] = "en",
) -> None:
    """Send the state's 'application received' message with sample values, through the configured provider."""
    from nagara.kit.errors import Problem
    from nagara.notifications import service

    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as session:
            provider_id = service.send_test(session, state=state, channel=channel, to=to, language=language)
    except Problem as exc:
        out.print(f"refused: {exc.detail}")
        raise typer.Exit(2) from exc
    except Exception as exc:
        out.print(f"the provider refused or could not be reached: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    out.print(f"sent through {channel} to {to}" + (f"; the provider's message id: {provider_id}" if provider_id else ""))
