"""The ``nagara`` command: run, migrate, validate packs, manage users."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyotp
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Column, Table

from nagara.ai.cli import ai_app
from nagara.analytics.cli import analytics_app
from nagara.certificates.cli import certificates_app
from nagara.command import Output, close_runtimes
from nagara.command import open_runtime as _runtime
from nagara.command import settings_or_exit as _settings
from nagara.exchange.cli import exchange_app
from nagara.ledger.cli import ledger_app
from nagara.migration.cli import migrate_app
from nagara.notifications.cli import notifications_app

if TYPE_CHECKING:
    from nagara.kit.settings import Settings
    from nagara.runtime import Runtime

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Nagara: citizen services of local governments.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
pack_app = typer.Typer(no_args_is_help=True, help="State configuration packs.")
users_app = typer.Typer(no_args_is_help=True, help="Users, roles and tokens.")
applications_app = typer.Typer(no_args_is_help=True, help="Applications.")
app.add_typer(db_app, name="db")
app.add_typer(pack_app, name="pack")
app.add_typer(users_app, name="users")
app.add_typer(applications_app, name="applications")
app.add_typer(ledger_app, name="ledger")
app.add_typer(exchange_app, name="exchange")
app.add_typer(certificates_app, name="certificates")
app.add_typer(analytics_app, name="analytics")
app.add_typer(migrate_app, name="migrate")
app.add_typer(ai_app, name="ai")
app.add_typer(notifications_app, name="notifications")

out = Output()
err = Console(stderr=True)


@app.callback()
def _each_command(ctx: typer.Context) -> None:
    """Load every domain before a command runs; close the database connections it opened when it ends."""
    from nagara.domains import load_all  # start-up time: `nagara --help` does not load the domains

    load_all()
    ctx.call_on_close(close_runtimes)


def _fail(exc: Exception) -> typer.Exit:
    from nagara.kit.errors import Problem

    if isinstance(exc, Problem):
        errors = exc.extra.get("errors")
        err.print(f"[red]error:[/red] {exc.detail}")
        for e in errors or []:
            err.print(f"  {'.'.join(map(str, e['loc'][1:]))}: {e['msg']}")
        return typer.Exit(1)
    raise exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (SQLite under ./var by default, or NAGARA_DATABASE_URL)."""
    from nagara.kit.migrate import upgrade

    rt = _runtime()
    upgrade(rt.db.engine)
    out.print(f"database at head ({rt.db.engine.dialect.name})")


def _validate(directory: Path) -> bool:
    from nagara.tenancy.packs import InvalidPack, read_pack

    try:
        pack = read_pack(directory)
    except InvalidPack as exc:
        err.print(f"[red]{directory}: {len(exc.errors)} error(s)[/red]")
        for e in exc.errors:
            err.print(f"  {e.file}: {e.path or '(top)'}: {e.message}", highlight=False, markup=False, soft_wrap=True)
        return False
    out.print(
        f"[green]{directory}: valid[/green] ({pack.code}: {len(pack.districts)} districts, "
        f"{len(pack.local_bodies)} local bodies, {sum(len(w) for w in pack.wards.values())} wards, "
        f"{len(pack.roles)} roles, {len(pack.services)} services)"
    )
    return True


@pack_app.command("validate")
def pack_validate(directories: Annotated[list[Path], typer.Argument(help="Pack folders, such as packs/kl")]) -> None:
    """Check packs against the shipped JSON Schemas and cross-references; report every error."""
    results = [_validate(d) for d in directories]  # validate every pack, not only up to the first bad one
    ok = all(results)
    raise typer.Exit(0 if ok else 1)


def _load_packs(rt: Runtime, directories: list[Path]) -> None:
    from nagara.tenancy.models import State
    from nagara.tenancy.packs import InvalidPack, read_pack, registered
    from nagara.tenancy.service import load_pack

    packs = []
    for d in directories:
        try:
            packs.append(read_pack(d))
        except InvalidPack as exc:
            _validate(d)
            raise typer.Exit(1) from exc
    with Progress(console=out, transient=True) as progress:
        task = progress.add_task("loading packs", total=len(packs))
        with rt.db.unit_of_work() as session:  # all packs or none
            for pack in packs:
                known = session.get(State, pack.code) is not None
                changes = registered().compare_services(session, pack) if known else None
                counts = load_pack(session, pack)
                progress.advance(task)
                out.print(f"loaded {pack.code}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
                for label, codes in (
                    ("offered", changes.added if changes else []),
                    ("new version of", changes.changed if changes else []),
                    ("withdrew (applications made go on)", changes.removed if changes else []),
                ):
                    if codes:
                        out.print(f"  {pack.code}: {label} {', '.join(codes)}")


@pack_app.command("load")
def pack_load(
    directories: Annotated[
        list[Path] | None, typer.Argument(help="Pack folders; default: every pack under NAGARA_PACKS_DIR")
    ] = None,
) -> None:
    """Validate and load packs into the database, all or nothing."""
    from nagara.tenancy.packs import discover

    rt = _runtime()
    _load_packs(rt, directories or discover(rt.settings.packs_dir))


@applications_app.command("reindex")
def applications_reindex(
    batch: Annotated[int, typer.Option(min=1, max=10000, help="Applications per transaction")] = 500,
) -> None:
    """Rewrite every application's search terms (keyed hashes of its names and mobile numbers)."""
    from nagara.applications.data import reindex

    rt = _runtime()
    done, last = 0, ""
    while True:
        with rt.db.unit_of_work() as session:
            count, after = reindex(session, after=last, batch=batch)
        if after is None:
            break
        done, last = done + count, after
    out.print(f"search terms written for {done} application(s)")


@pack_app.command("test")
def pack_test(
    directory: Annotated[Path, typer.Argument(help="A pack folder, such as packs/kl")],
    service: Annotated[
        list[str] | None, typer.Option("--service", "-s", help="Walk only this service (repeatable); default: all")
    ] = None,
) -> None:
    """Walk every service of a pack to each final state, through every action and appeal, on a scratch
    database (a temporary SQLite file), as a citizen and the officers of the workflow's roles; report each
    state or action that could not be reached and why. Exit 1 if any."""
    from nagara.packtest import ServiceReport, walk_pack
    from nagara.tenancy.packs import InvalidPack, read_pack

    try:
        pack = read_pack(directory)
    except InvalidPack as exc:
        _validate(directory)
        raise typer.Exit(1) from exc
    unknown = sorted(set(service or []) - set(pack.services))
    if unknown:
        err.print(f"[red]error:[/red] no service {', '.join(unknown)} in {directory}/services/", highlight=False)
        raise typer.Exit(2)

    def show(report: ServiceReport) -> None:
        where = f"{report.service} at {report.local_body}"
        walked = f"{len(report.states)} states, {len(report.actions)} actions, {report.applications} applications"
        if report.ok:
            out.print(f"[green]ok[/green]   {where}: {walked}", highlight=False, soft_wrap=True)
            return
        out.print(f"[red]FAIL[/red] {where}: {len(report.problems)} problem(s) ({walked})", highlight=False, soft_wrap=True)
        for problem in report.problems:
            out.print(f"       {problem}", highlight=False, markup=False, soft_wrap=True)

    result = walk_pack(pack, services=service, progress=show)
    failed = [r for r in result.services if not r.ok]
    if failed:
        err.print(f"[red]{directory}: {len(failed)} of {len(result.services)} service walk(s) failed[/red]", highlight=False)
        raise typer.Exit(1)
    out.print(f"[green]{directory}: every state and action of {len(result.services)} service walk(s) reached[/green]")


@users_app.command("token")
def users_token(
    user: Annotated[str, typer.Argument(help="Username, user id or citizen mobile number")],
    label: str = "cli",
    hours: Annotated[int, typer.Option(help="Lifetime in hours")] = 24,
) -> None:
    """Print a bearer token for an existing user (for operators and scripts)."""
    from datetime import timedelta

    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            found = service.find_user(session, user)
            token = service.issue_token(session, found, "bearer", label=label, ttl=timedelta(hours=hours), origin="cli")
    except Exception as exc:
        raise _fail(exc) from exc
    print(token)


@users_app.command("totp")
def users_totp(user: str) -> None:
    """Print the current authenticator code of an officer (development and demo only)."""
    from nagara.identity import service

    settings = _settings()
    if settings.env == "production":
        err.print("[red]error:[/red] refusing to reveal authenticator codes in production")
        raise typer.Exit(2)
    rt = _runtime(settings)
    try:
        with rt.db.unit_of_work(readonly=True) as session:
            found = service.find_user(session, user)
            if not found.totp_sealed:
                err.print("this user has no authenticator enrolled")
                raise typer.Exit(1)
            secret = rt.cipher.decrypt(found.totp_sealed, context="totp")
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(exc) from exc
    print(pyotp.TOTP(secret).now())


@users_app.command("create-officer")
def users_create_officer(
    username: str,
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[str, typer.Option(help="Role code from the state's pack, such as secretary")],
    state: Annotated[str, typer.Option(help="State code, such as kl")],
    local_body: Annotated[str | None, typer.Option(help="Local body code, such as kl.tvm-corp")] = None,
    ward: str | None = None,
    section: str | None = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create an officer with a role; prints the authenticator secret to enrol."""
    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            created = service.create_officer(
                session,
                None,
                state_code=state,
                username=username,
                name=name,
                password=password,
                role=role,
                place=service.Place(state, local_body, ward, section),
            )
    except Exception as exc:
        raise _fail(exc) from exc
    out.print(f"created {created.user.username}; authenticator secret: {created.totp_secret}")
    out.print(pyotp.TOTP(created.totp_secret).provisioning_uri(name=username, issuer_name="Nagara"))


@users_app.command("reset-password")
def users_reset_password(
    user: Annotated[str, typer.Argument(help="The officer's username or user id")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Set an officer's password (checked like any new one); every session and token of theirs ends."""
    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            found = service.find_user(session, user)
            service.reset_password(session, None, found.id, new=password)
    except Exception as exc:
        raise _fail(exc) from exc
    out.print(f"the password of {found.username} is reset; their sessions and tokens have ended")


@users_app.command("grant")
def users_grant(
    user: str,
    role: str,
    state: Annotated[str, typer.Option()],
    local_body: Annotated[str | None, typer.Option()] = None,
    ward: str | None = None,
    section: str | None = None,
) -> None:
    """Give a user a role in a state, local body, ward or section."""
    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            found = service.find_user(session, user)
            service.grant_role(session, None, found, role, service.Place(state, local_body, ward, section))
    except Exception as exc:
        raise _fail(exc) from exc
    out.print(f"granted {role} to {user}")


@users_app.command("create-partner")
def users_create_partner(
    username: str,
    name: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()],
    state: Annotated[str, typer.Option()],
    local_body: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register a partner system and print its API key (shown once)."""
    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            _user, key = service.create_partner(
                session, state_code=state, username=username, name=name, role=role, place=service.Place(state, local_body)
            )
    except Exception as exc:
        raise _fail(exc) from exc
    print(key)


@users_app.command("api-key")
def users_api_key(
    user: Annotated[str, typer.Argument(help="A partner system's username or id")],
    label: str = "partner",
) -> None:
    """Print a new API key for a partner system (shown once); it expires after NAGARA_API_KEY_TTL_DAYS."""
    from nagara.identity import service

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            found = service.find_user(session, user)
            if found.kind != "partner":
                err.print(f"[red]error:[/red] {user} is a {found.kind}; API keys are for partner systems")
                raise typer.Exit(1)
            key = service.issue_token(session, found, "api_key", label=label, origin="partner")
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(exc) from exc
    print(key)


@users_app.command("tokens")
def users_tokens(user: Annotated[str, typer.Argument(help="Username, user id or citizen mobile number")]) -> None:
    """A user's sessions, bearer tokens and API keys that still work, with when each expires."""
    from nagara.identity import credentials

    rt = _runtime()
    table = Table(Column("id", no_wrap=True), "kind", "label", "origin", "created", "expires")
    try:
        with rt.db.unit_of_work(readonly=True) as session:
            found = credentials.managed_user(session, None, user)
            for t in credentials.listing(session, None, found):
                expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
                created = t.created_at.isoformat(timespec="minutes")
                table.add_row(t.id, t.kind, t.label or "", t.origin or "", created, expires)
    except Exception as exc:
        raise _fail(exc) from exc
    out.print(table)


@users_app.command("revoke-token")
def users_revoke_token(
    user: Annotated[str, typer.Argument(help="Username, user id or citizen mobile number")],
    token_id: Annotated[str, typer.Argument(help="The id that `nagara users tokens USER` lists")],
) -> None:
    """Revoke one of a user's sessions, tokens or API keys; it stops working at the next request."""
    from nagara.identity import credentials

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            credentials.revoke(session, credentials.managed_user(session, None, user), token_id)
    except Exception as exc:
        raise _fail(exc) from exc
    out.print(f"revoked {token_id}")


def _set_active(user: str, *, enabled: bool) -> None:
    from nagara.identity import credentials

    rt = _runtime()
    try:
        with rt.db.unit_of_work() as session:
            credentials.set_active(session, None, credentials.managed_user(session, None, user), enabled=enabled)
    except Exception as exc:
        raise _fail(exc) from exc


@users_app.command("disable")
def users_disable(user: Annotated[str, typer.Argument(help="Username, user id or citizen mobile number")]) -> None:
    """Disable an account and revoke every credential it holds."""
    _set_active(user, enabled=False)
    out.print(f"disabled {user}; their sessions, tokens and keys no longer work")


@users_app.command("enable")
def users_enable(user: Annotated[str, typer.Argument(help="Username, user id or citizen mobile number")]) -> None:
    """Enable a disabled account (it signs in again; its old credentials stay revoked)."""
    _set_active(user, enabled=True)
    out.print(f"enabled {user}")


@users_app.command("list")
def users_list() -> None:
    """Officers and partner systems with their roles."""
    from nagara.demo import demo_accounts_table

    rt = _runtime()
    table = Table(Column("username", no_wrap=True), Column("role", no_wrap=True), "where")
    with rt.db.unit_of_work(readonly=True) as session:
        for row in demo_accounts_table(session):
            table.add_row(*row)
    out.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default NAGARA_HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Default NAGARA_PORT (8000)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes, each with its own embedded worker unless NAGARA_WORKER_EMBEDDED=false. "
            "Default NAGARA_WORKERS, or one on SQLite and one per two cores on PostgreSQL"
        ),
    ] = None,
) -> None:
    """Serve the platform over HTTP."""
    import uvicorn

    settings = _settings()
    processes = workers or settings.serve_workers
    if processes > 1 and settings.is_sqlite:
        err.print(
            f"[yellow]warning:[/yellow] {processes} processes on SQLite take turns at the one write lock "
            "across processes; one process serves SQLite best"
        )
    # uvloop and httptools (uvicorn[standard]) are picked by uvicorn's "auto" when installed.
    uvicorn.run(
        "nagara.app:main_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=processes,
        log_config=None,
        # X-Forwarded-For is read by the app, from NAGARA_TRUSTED_PROXIES only (app.TrustedProxyMiddleware).
        proxy_headers=False,
    )


@app.command()
def worker() -> None:
    """Run background and scheduled jobs until interrupted (any number may run at once)."""
    from nagara.kit.logging import configure_logging
    from nagara.worker.runner import Worker

    settings = _settings()
    configure_logging(settings.log_level, json=settings.log_json)
    rt = _runtime(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Worker(rt.db).run_forever(stop, settings.worker_poll_seconds)


def _add_sample(rt: Runtime, seed: int, applications: int, days: int) -> None:
    from rich.markup import escape

    from nagara.sample import add_sample

    with Progress(console=out, transient=True) as progress:
        task = progress.add_task("sample applications", total=applications)
        report = add_sample(
            rt.db,
            seed=seed,
            applications_count=applications,
            days=days,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    states = ", ".join(f"{n} {s}" for s, n in sorted(report.by_state.items()))
    out.print(
        f"sample: {report.applications} applications, {report.steps} steps, {report.payments} payments, "
        f"{report.day_closes} counter days closed; the database now has {states}; ledger size {report.ledger_size}"
    )
    for failure in report.failures:
        err.print(f"[yellow]sample step refused:[/yellow] {escape(failure)}", highlight=False)


SAMPLE_SEED = Annotated[int, typer.Option(help="Seed of the made-up data (the same seed gives the same data)")]
SAMPLE_COUNT = Annotated[int, typer.Option(help="Applications to play")]
SAMPLE_DAYS = Annotated[int, typer.Option(help="Over how many days before now")]


def _refuse_production(settings: Settings) -> None:
    if settings.env == "production":
        err.print("[red]error:[/red] the demonstration data is not for production")
        raise typer.Exit(2)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards")] = True,
    sample: Annotated[
        bool, typer.Option("--sample/--no-sample", help="Fill a database without applications with sample data")
    ] = True,
    seed: SAMPLE_SEED = 13,
    applications: SAMPLE_COUNT = 320,
    days: SAMPLE_DAYS = 90,
) -> None:
    """Migrate, load the packs and demonstration accounts, add sample data to a fresh database, then serve."""
    from sqlalchemy import select

    from nagara.applications.models import Application
    from nagara.demo import DEMO_CITIZEN_MOBILE, DEMO_PASSWORD, demo_accounts_table, load_demo_users
    from nagara.kit.migrate import upgrade
    from nagara.tenancy.packs import discover

    settings = _settings()
    _refuse_production(settings)
    rt = _runtime(settings)
    upgrade(rt.db.engine)
    _load_packs(rt, discover(settings.packs_dir))
    _demo_ledger(rt)
    with rt.db.unit_of_work() as session:
        load_demo_users(session)
    from nagara.payments.demo import load_demo_properties

    with rt.db.unit_of_work() as session:
        load_demo_properties(session, DEMO_CITIZEN_MOBILE)  # a property register with this half-year's demands
        fresh = session.scalar(select(Application.id).limit(1)) is None
    if sample and fresh:  # once: a database with applications is left as it is (`nagara sample` adds more)
        _add_sample(rt, seed, applications, days)
    with rt.db.unit_of_work(readonly=True) as session:
        rows = demo_accounts_table(session)
    table = Table(Column("username", no_wrap=True), Column("role", no_wrap=True), "where", title="Demo officer accounts")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    out.print(
        f"Officers: password [bold]{DEMO_PASSWORD}[/bold];\n"
        "  authenticator code: [bold].venv/bin/nagara users totp USERNAME[/bold]\n"
        f"Citizens: sign in with any mobile number (for example {DEMO_CITIZEN_MOBILE}, whose applications the "
        "sample data has); the one-time code is printed in this terminal.\n"
        "Token for scripts: [bold].venv/bin/nagara users token USERNAME[/bold]\n"
        f"Open [bold]{settings.base_url}/[/bold] (API docs at {settings.base_url}/docs)"
    )
    sys.stdout.flush()
    if serve_after:
        serve(host=None, port=None, workers=None)


@app.command("sample")
def sample_data(seed: SAMPLE_SEED = 13, applications: SAMPLE_COUNT = 320, days: SAMPLE_DAYS = 90) -> None:
    """Add sample applications, payments and certificates to the demo local bodies of an existing database.

    Needs the packs and the demo accounts (`nagara demo --no-serve` loads them). Every record is
    made by the same services the API calls, back-dated over the past days; run it again to add more.
    """
    from nagara.demo import load_demo_users

    settings = _settings()
    _refuse_production(settings)
    rt = _runtime(settings)
    _demo_ledger(rt)
    with rt.db.unit_of_work() as session:
        load_demo_users(session)
    _add_sample(rt, seed, applications, days)


def _demo_ledger(rt: Runtime) -> None:
    """Several states' packs on one demo node: a log of the node's own, here and in the server it starts."""
    from nagara.demo import demo_ledger_origin

    with rt.db.unit_of_work(readonly=True) as session:
        origin = demo_ledger_origin(session, rt.settings)
    if origin:
        rt.settings.ledger_origin = os.environ["NAGARA_LEDGER_ORIGIN"] = origin
        out.print(f"Ledger: this node's log is {origin} (each state's records in its own log: nagara ledger demo-pair)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
