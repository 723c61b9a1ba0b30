"""``nagara ledger ...``: verify a log from outside, print and check offline proofs, manage keys, run a witnessing pair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from nagara.command import Output, open_runtime, settings_or_exit

ledger_app = typer.Typer(
    no_args_is_help=True, help="The public ledger: verify, prove, check proofs, keys, a witnessing demo pair."
)

out = Output()
err = Console(stderr=True)


def _default_state() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "nagara" / "ledger-verify.json"


@ledger_app.command("verify")
def verify(
    url: Annotated[str, typer.Argument(help="The log: a node's address (/ledger is added) or a tlog-tiles prefix")],
    vkey: Annotated[
        str | None, typer.Option(help="The log's verifier key; default: the one remembered, else trust on first use")
    ] = None,
    witness: Annotated[list[str] | None, typer.Option(help="A witness's verifier key (repeat for several)")] = None,
    quorum: Annotated[int | None, typer.Option(help="Valid witness cosignatures required (default: every --witness)")] = None,
    state: Annotated[Path | None, typer.Option(help="Where the last checkpoint seen is remembered")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild from the first entry even if an earlier run was remembered")
    ] = False,
    tiles: Annotated[bool, typer.Option("--tiles/--no-tiles", help="Also compare the served hash tiles")] = True,
) -> None:
    """Check the log's checkpoint, witnesses, consistency with the last run, and rebuild the tree from the entries."""
    import httpx
    from rich.progress import Progress

    from nagara.ledger.client import VerificationError, verify_log

    with httpx.Client(timeout=30.0, follow_redirects=True) as http, Progress(console=err, transient=True) as progress:
        task = progress.add_task("reading entries", total=None)
        try:
            report = verify_log(
                http,
                url,
                vkey=vkey,
                witness_vkeys=witness or [],
                quorum=quorum,
                state_path=state or _default_state(),
                full=full,
                check_tiles=tiles,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except VerificationError as exc:
            err.print(f"[red]FAILED:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
    if report.trusted_on_first_use:
        err.print("[yellow]warning:[/yellow] no --vkey given: trusting the key the server gave, and remembering it")
    since = "" if report.previous_size is None else f", consistent with size {report.previous_size} seen before"
    out.print(
        f"[green]OK[/green] {report.origin}: {report.size} entries, root {_b64(report.root_hash)}{since}; "
        f"{report.entries_checked} entries rebuilt; {len(report.witnesses)} witness cosignature(s)",
        highlight=False,
        soft_wrap=True,
    )
    for name in report.witnesses:
        out.print(f"  cosigned by {name}", highlight=False, soft_wrap=True)


def _b64(data: bytes) -> str:
    from nagara.ledger.note import b64encode

    return b64encode(data)


@ledger_app.command("prove")
def prove(
    subject: Annotated[str, typer.Argument(help="Application number, certificate id or payment reference")],
    index: Annotated[int | None, typer.Option(help="This entry of the subject (default: its newest)")] = None,
    url: Annotated[str | None, typer.Option(help="Ask this node over HTTP instead of this node's database")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the proof here (.tlog-proof)")] = None,
) -> None:
    """Print an offline proof (C2SP tlog-proof) that the subject's entry is in the log; the entry is its extra data."""
    proofs: list[tuple[int, str]]
    if url is not None:
        import httpx

        from nagara.ledger.client import log_prefix

        response = httpx.get(f"{log_prefix(url)}/entries/{subject}", timeout=30.0)
        if response.status_code != 200:
            err.print(f"[red]error:[/red] {url} answered HTTP {response.status_code}: {response.text[:300]}")
            raise typer.Exit(1)
        proofs = [(int(e["index"]), str(e["proof"])) for e in response.json()["entries"]]
    else:
        from nagara.ledger import service

        rt = open_runtime()
        with rt.db.unit_of_work(readonly=True) as session:
            found = service.subject_entries(session, rt.settings, subject, limit=1000)
        proofs = [(e.index, e.proof) for e in found.entries]
        if not proofs and found.pending:
            err.print(f"{subject} has {found.pending} entry(ies) not yet in the published tree; try again shortly")
            raise typer.Exit(1)
    if index is not None:
        proofs = [p for p in proofs if p[0] == index]
    if not proofs:
        err.print(
            f"[red]error:[/red] no published ledger entry for {subject!r}" + (f" at index {index}" if index is not None else "")
        )
        raise typer.Exit(1)
    text = proofs[-1][1]
    if output is not None:
        output.write_text(text)
        err.print(f"wrote the proof of entry {proofs[-1][0]} to {output}")
    else:
        sys.stdout.write(text)


@ledger_app.command("check-proof")
def check_proof(
    file: Annotated[Path, typer.Argument(help="A .tlog-proof file ('-' for standard input)")],
    vkey: Annotated[str, typer.Option(help="The log's verifier key")],
    witness: Annotated[list[str] | None, typer.Option(help="A witness's verifier key (repeat for several)")] = None,
    quorum: Annotated[int | None, typer.Option(help="Valid witness cosignatures required (default: every --witness)")] = None,
    subject: Annotated[str | None, typer.Option(help="Require the entry to be about this subject")] = None,
    content: Annotated[Path | None, typer.Option(help="A JSON file with the record's content, to check the hash")] = None,
    salt: Annotated[str | None, typer.Option(help="The entry's salt (hex), given by the record's owner")] = None,
) -> None:
    """Verify an offline proof without any server: signature, witnesses, inclusion, and what the entry says."""
    from nagara.ledger.client import VerificationError
    from nagara.ledger.client import check_proof as check

    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        record = json.loads(content.read_text()) if content is not None else None
        checked = check(
            text,
            vkey=vkey,
            witness_vkeys=witness or [],
            quorum=quorum,
            subject=subject,
            content=record,
            salt=bytes.fromhex(salt) if salt else None,
        )
    except (VerificationError, ValueError) as exc:
        err.print(f"[red]FAILED:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    entry = checked.entry
    out.print(
        f"[green]OK[/green] entry {checked.index} of {checked.checkpoint.origin} (tree size {checked.checkpoint.size}): "
        f"{entry.type} {entry.subject} in {entry.tenant} by {entry.actor_role or '-'} at {entry.time}",
        highlight=False,
        soft_wrap=True,
    )
    if content is not None:
        out.print("  the content matches the entry's hash", highlight=False)
    for name in checked.witnesses:
        out.print(f"  cosigned by {name}", highlight=False, soft_wrap=True)


@ledger_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Argument(help="The log's origin (for a log key) or the witness's name")],
    witness: Annotated[bool, typer.Option("--witness", help="A witness (cosignature) key instead of a log key")] = False,
) -> None:
    """Print a new private key (for NAGARA_LEDGER_KEY or NAGARA_LEDGER_WITNESS_KEY) and its verifier key."""
    from nagara.ledger import keys, note

    private, vkey = keys.generate_cosigner_key(name) if witness else note.generate_key(name)
    sys.stdout.write(f"{private}\n{vkey}\n")


@ledger_app.command("keys")
def show_keys() -> None:
    """This node's log origin and verifier keys (development generates the keys on first use)."""
    from nagara.ledger import keys

    rt = open_runtime()
    with rt.db.unit_of_work(readonly=True) as session:
        origin = keys.resolve_origin(session, rt.settings)
    if origin is None:
        err.print("[red]error:[/red] no ledger origin: load a state pack or set NAGARA_LEDGER_ORIGIN")
        raise typer.Exit(1)
    log_vkey = keys.log_signer(rt.settings, origin).vkey
    witness_vkey = keys.witness_signer(rt.settings, origin).vkey
    sys.stdout.write(f"origin  {origin}\nlog     {log_vkey}\nwitness {witness_vkey}\n")


@ledger_app.command("integrate")
def integrate_now() -> None:
    """Integrate every pending entry now and sign a checkpoint (the worker does this every second)."""
    from nagara.kit.db import try_single_runner
    from nagara.ledger import integrator

    rt = open_runtime()
    while True:
        with rt.db.unit_of_work() as session:
            if not try_single_runner(session, "ledger.integrate"):
                err.print("another integrator is running; try again")
                raise typer.Exit(1)
            result = integrator.integrate(session, rt.settings)
        if result.size == result.old_size:
            break
    out.print(f"tree size {result.size} ({result.origin})")


PAIR = ("kl", "ka")


def _pair_keys(directory: Path, origins: dict[str, str]) -> dict[str, dict[str, str]]:
    from nagara.ledger import keys, note

    path = directory / "keys.json"
    if path.exists():
        stored: dict[str, dict[str, str]] = json.loads(path.read_text())
        if all(stored.get(s, {}).get("origin") == o for s, o in origins.items()):
            return stored
    made: dict[str, dict[str, str]] = {}
    for state, origin in origins.items():
        log_key, log_vkey = note.generate_key(origin)
        witness_key, witness_vkey = keys.generate_cosigner_key(origin.split("/", 1)[0] + "/witness")
        made[state] = {
            "origin": origin,
            "log_key": log_key,
            "log_vkey": log_vkey,
            "witness_key": witness_key,
            "witness_vkey": witness_vkey,
        }
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(made, f, indent=2)
    return made


def pair_environments(directory: Path, packs_dir: Path, first_port: int) -> dict[str, dict[str, str]]:
    """The NAGARA_* settings of two nodes (Kerala and Karnataka) that witness each other's logs."""
    from nagara.tenancy.packs import read_pack

    origins = {state: str(read_pack(packs_dir / state).meta["ledger_origin"]) for state in PAIR}
    keyring = _pair_keys(directory, origins)
    ports = {state: first_port + i for i, state in enumerate(PAIR)}
    envs: dict[str, dict[str, str]] = {}
    for state in PAIR:
        other = next(s for s in PAIR if s != state)
        var_dir = directory / state
        # Each node holds its own state's pack only, so every record it signs belongs in its log.
        own_packs = var_dir / "packs"
        own_packs.mkdir(parents=True, exist_ok=True)
        if not (own_packs / state).exists():
            (own_packs / state).symlink_to((packs_dir / state).resolve(), target_is_directory=True)
        envs[state] = {
            "NAGARA_VAR_DIR": str(var_dir),
            "NAGARA_DATABASE_URL": f"sqlite:///{(var_dir / 'nagara.db').as_posix()}",
            "NAGARA_PORT": str(ports[state]),
            "NAGARA_BASE_URL": f"http://127.0.0.1:{ports[state]}",
            "NAGARA_PACKS_DIR": str(own_packs),
            "NAGARA_LEDGER_ORIGIN": keyring[state]["origin"],
            "NAGARA_LEDGER_KEY": keyring[state]["log_key"],
            "NAGARA_LEDGER_WITNESS_KEY": keyring[state]["witness_key"],
            "NAGARA_LEDGER_WITNESSED_LOGS": json.dumps([keyring[other]["log_vkey"]]),
            "NAGARA_LEDGER_WITNESSES": json.dumps(
                {f"http://127.0.0.1:{ports[other]}/ledger/witness": keyring[other]["witness_vkey"]}
            ),
            "NAGARA_LEDGER_WITNESS_QUORUM": "1",
        }
    return envs


@ledger_app.command("demo-pair")
def demo_pair(
    directory: Annotated[Path, typer.Option(help="Where both nodes keep their databases and keys")] = Path("var/pair"),
    first_port: Annotated[int, typer.Option(help="Kerala's port; Karnataka's is the next one")] = 8001,
) -> None:
    """Run a Kerala node and a Karnataka node (``nagara demo`` each) whose ledgers witness each other."""
    settings = settings_or_exit()
    if settings.env == "production":
        err.print("[red]error:[/red] the demonstration is not for production")
        raise typer.Exit(2)
    envs = pair_environments(directory, settings.packs_dir, first_port)
    base = {k: v for k, v in os.environ.items() if not k.startswith("NAGARA_") or k == "NAGARA_ENV"}
    children: list[subprocess.Popen[bytes]] = []
    for state in PAIR:
        children.append(subprocess.Popen([sys.executable, "-m", "nagara", "demo"], env={**base, **envs[state]}))
    kl, ka = (envs[s] for s in PAIR)
    _print_pair(kl, ka)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started in the background, where SIGINT is ignored
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.is_set() and all(c.poll() is None for c in children):
            stopping.wait(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def _print_pair(kl: dict[str, Any], ka: dict[str, Any]) -> None:
    from nagara.ledger import note
    from nagara.ledger.keys import load_cosigner

    def vkeys(env: dict[str, Any]) -> tuple[str, str]:
        signer = note.Ed25519Signer.from_private_key_string(env["NAGARA_LEDGER_KEY"])
        return signer.vkey, load_cosigner(env["NAGARA_LEDGER_WITNESS_KEY"]).vkey

    kl_log, kl_witness = vkeys(kl)
    ka_log, ka_witness = vkeys(ka)
    out.print(
        f"\nKerala node:    {kl['NAGARA_BASE_URL']}  (log {kl['NAGARA_LEDGER_ORIGIN']})\n"
        f"Karnataka node: {ka['NAGARA_BASE_URL']}  (log {ka['NAGARA_LEDGER_ORIGIN']})\n"
        "Each witnesses the other's log; a checkpoint is published once the other node has cosigned it.\n"
        "Check Kerala's log and Karnataka's cosignature with:\n"
        f"  nagara ledger verify {kl['NAGARA_BASE_URL']} --vkey '{kl_log}' --witness '{ka_witness}'\n"
        f"  nagara ledger verify {ka['NAGARA_BASE_URL']} --vkey '{ka_log}' --witness '{kl_witness}'\n",
        highlight=False,
        soft_wrap=True,
    )
