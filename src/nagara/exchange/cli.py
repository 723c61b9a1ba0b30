"""``nagara exchange ...``: this node's keys, the member registry, and a signed call for testing."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import typer
from rich.console import Console

from nagara.command import Output, open_runtime
from nagara.exchange import client, service
from nagara.kit.errors import Problem

exchange_app = typer.Typer(no_args_is_help=True, help="Signed exchange with other members: keys, members, test calls.")
keys_app = typer.Typer(no_args_is_help=True, help="This node's signing keys.")
exchange_app.add_typer(keys_app, name="keys")
out = Output()
err = Console(stderr=True)


def _fail(exc: Problem) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.detail}", highlight=False, soft_wrap=True)
    for item in exc.extra.get("errors", []):
        err.print(f"  {'.'.join(str(p) for p in item['loc'])}: {item['msg']}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@keys_app.command("rotate")
def rotate(name: Annotated[str | None, typer.Option(help="The key's name after # (default: dated)")] = None) -> None:
    """Make a new signing key, used at once; older keys stay published until retired (give peers the new one first)."""
    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as s:
            row = service.rotate_own_key(s, name)
            out.print(f"{row.key_id} {row.public_key}", highlight=False, soft_wrap=True)
    except Problem as exc:
        raise _fail(exc) from None


@keys_app.command("retire")
def retire(key_id: str) -> None:
    """Stop signing with and publishing a key of this node."""
    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as s:
            service.retire_own_key(s, key_id)
    except Problem as exc:
        raise _fail(exc) from None
    out.print(f"retired {key_id}", highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_keys() -> None:
    """This node's active keys (what /exchange/v1/keys publishes)."""
    rt = open_runtime()
    with rt.db.unit_of_work(readonly=True) as s:
        for row in service.own_keys(s):
            out.print(f"{row.key_id} {row.public_key}", highlight=False, soft_wrap=True)


@exchange_app.command("register")
def register(
    identifier: Annotated[str, typer.Argument(help="INSTANCE/CLASS/MEMBER/SUBSYSTEM")],
    state: Annotated[str, typer.Option(help="The state whose administrator manages the member")],
    name: Annotated[str, typer.Option(help="The member's name")],
    url: Annotated[str, typer.Option(help="The member's address; its keys are read from URL/exchange/v1/keys")] = "",
    did: Annotated[str | None, typer.Option(help="Its did:web DID (default: what URL publishes)")] = None,
    key: Annotated[list[str] | None, typer.Option(help="KEY_ID=PUBLIC_KEY (repeat; default: what URL publishes)")] = None,
    service_name: Annotated[list[str] | None, typer.Option("--service", help="A service it may call here (repeat)")] = None,
    purpose: Annotated[list[str] | None, typer.Option(help="A purpose it may state (repeat)")] = None,
    rate: Annotated[int, typer.Option(help="Requests a minute")] = 600,
) -> None:
    """Register a member: another node, a department, a national system."""
    keys = dict(k.split("=", 1) for k in key or [] if "=" in k)
    if url and (did is None or not keys):
        try:
            published = httpx.get(url.rstrip("/") + "/exchange/v1/keys", timeout=30.0).json()
        except (httpx.HTTPError, ValueError) as exc:
            err.print(f"[red]error:[/red] could not read {url}/exchange/v1/keys: {exc}")
            raise typer.Exit(1) from None
        did = did or published["did"]
        keys = keys or {k["key_id"]: k["public_key"] for k in published["keys"]}
    if not did:
        err.print("[red]error:[/red] give --did (and --key), or --url of a node that publishes them")
        raise typer.Exit(2)
    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as s:
            service.register_member(
                s,
                None,
                identifier=identifier,
                name=name,
                did=did,
                state_code=state,
                base_url=url,
                services=service_name or [],
                purposes=purpose or [],
                requests_per_minute=rate,
                keys=keys,
            )
    except Problem as exc:
        raise _fail(exc) from None
    out.print(f"registered {identifier} with {len(keys)} key(s)", highlight=False, soft_wrap=True)


@exchange_app.command("add-key")
def add_key(identifier: str, key_id: str, public_key: str) -> None:
    """Accept a member's new key beside its others (rotation without downtime)."""
    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as s:
            service.add_member_key(s, None, identifier, key_id, public_key)
    except Problem as exc:
        raise _fail(exc) from None
    out.print(f"added {key_id}", highlight=False, soft_wrap=True)


@exchange_app.command("retire-key")
def retire_key(identifier: str, key_id: str) -> None:
    """Stop accepting one of a member's keys."""
    rt = open_runtime()
    try:
        with rt.db.unit_of_work() as s:
            service.retire_member_key(s, None, identifier, key_id)
    except Problem as exc:
        raise _fail(exc) from None
    out.print(f"retired {key_id}", highlight=False, soft_wrap=True)


@exchange_app.command("list")
def list_members() -> None:
    """Every member: identifier, status, services, purposes, rate and keys."""
    rt = open_runtime()
    with rt.db.unit_of_work(readonly=True) as s:
        for member in service.list_members(s, None):
            keys = [k.key_id for k in service.member_keys(s, member) if k.status == "active"]
            out.print(
                f"{member.identifier}\t{member.status}\t{','.join(member.services) or '-'}\t"
                f"{','.join(member.purposes) or '-'}\t{member.requests_per_minute}/min\t{' '.join(keys)}",
                highlight=False,
                soft_wrap=True,
            )


@exchange_app.command("call")
def call(
    identifier: str,
    service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
    payload: Annotated[str, typer.Argument(help='The JSON body, e.g. \'{"purpose": "...", "number": "..."}\'')],
) -> None:
    """Call a member's service, signed; print its checked answer (for testing a link)."""
    try:
        body = json.loads(payload)
    except ValueError as exc:
        err.print(f"[red]error:[/red] the body is not JSON: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(body, dict):
        err.print("[red]error:[/red] the body must be a JSON object")
        raise typer.Exit(2)
    rt = open_runtime()
    try:
        with rt.db.unit_of_work(readonly=True) as s:  # no write lock while the member answers (it may be this node)
            sent = client.send(s, identifier, service_name, body)
        with rt.db.unit_of_work() as s:
            reply = client.log(s, sent)
    except Problem as exc:
        raise _fail(exc) from None
    out.print(f"{reply.status} (signature checked)", highlight=False)
    out.print(json.dumps(reply.body, ensure_ascii=False, indent=2), highlight=False, soft_wrap=True)
    if reply.status >= 400:
        raise typer.Exit(1)
