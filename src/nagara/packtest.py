"""``nagara pack test``: walk every service of a pack on a scratch database, as its people would.

A temporary SQLite database is migrated and the pack loaded into it. For each service, at a
local body that offers it (and at every body that overrides it), officers are created for
every role the workflow names and a citizen signs in with a one-time code. Applications are
filled with form data generated from the form's JSON Schema, their documents uploaded (a
small valid PDF, or a PNG where PDFs are not accepted), submitted, and moved to each final
state, through every action, back for correction, and through the appeals; fees are paid at
the counter. Each step is one unit of work calling the same service functions as the API
(``applications.service.create / upload / act``, ``payments.counter.counter_payment``,
``identity.service.request_otp / verify_otp / create_officer``), so what the report says an
author would meet is what a citizen and an office would meet.

The report names, per service, each state never entered and each action never taken, and why:
no action leads there, a role nobody can hold, the refusal the service gave.
"""

from __future__ import annotations

import functools
import re
import struct
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the parsed form of a pattern, to build a match
from typing import Any

from argon2 import PasswordHasher
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications import service as applications
from nagara.applications.models import Application
from nagara.catalog import service as catalog
from nagara.catalog.definitions import (
    ALLOW_APPEAL,
    APPEAL,
    APPLICANT,
    DISMISS_APPEAL,
    FIRST_APPEAL,
    SECOND_APPEAL,
    STAY,
    SUBMIT,
)
from nagara.catalog.rules import all_hold, assess_fees, holds, total
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit import context
from nagara.kit.db import utcnow
from nagara.kit.errors import Problem
from nagara.kit.migrate import upgrade
from nagara.kit.settings import Settings
from nagara.payments import counter
from nagara.payments.demands import amount_due, demand_of_application
from nagara.payments.service import local_day
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.models import Ward
from nagara.tenancy.packs import Pack
from nagara.tenancy.service import load_pack
from nagara.worker.runner import Worker

# A small valid PDF (one empty A4 page; the cross-reference offsets are computed) and a 1x1 PNG.
_PDF_OBJECTS = (
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
)


def _pdf() -> bytes:
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(_PDF_OBJECTS, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _png() -> bytes:
    """A 1x1 white PNG, its chunks' checksums computed."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, 8 bits, RGB, no interlace
    pixels = zlib.compress(b"\x00\xff\xff\xff")  # filter byte, one white pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PDF = _pdf()
PNG = _png()
OFFICER_PASSWORD = "pack-test-password-2026"  # a throwaway officer of a throwaway database
CITIZEN_MOBILE = "9000000099"


# --- form data from a JSON Schema ---------------------------------------------------------------


def _pattern_sample(pattern: str, want: int) -> str | None:
    """A string matching ``pattern``, repeating each repeated part about ``want`` times."""

    def build(parsed: Any) -> str:
        out = ""
        for op, arg in parsed:
            name = str(op)
            if name == "LITERAL":
                out += chr(arg)
            elif name == "ANY":
                out += "a"
            elif name == "IN":
                out += _class_char(arg)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = arg
                count = max(low, min(want, high if high != sre_parse.MAXREPEAT else want))
                out += build(sub) * count
            elif name == "SUBPATTERN":
                out += build(arg[-1])
            elif name == "BRANCH":
                out += build(arg[1][0])
            elif name == "CATEGORY":
                out += _class_char([(op, arg)])
            elif name in ("AT", "ASSERT", "ASSERT_NOT"):
                continue
            else:
                raise ValueError(name)
        return out

    try:
        candidate = build(sre_parse.parse(pattern))
    except (ValueError, TypeError, re.error):
        return None
    return candidate if re.search(pattern, candidate) else None


def _class_char(items: Any) -> str:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            low, high = arg
            for preferred in "A1a":  # a letter or digit reads better than the range's first character
                if low <= ord(preferred) <= high:
                    return preferred
            return chr(low)
        if name == "CATEGORY":
            return {"CATEGORY_DIGIT": "1", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a"}.get(str(arg), "a")
    return "a"


def _strings(schema: dict[str, Any]) -> list[str]:
    low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 40))
    fmt = schema.get("format")
    today = datetime.now(UTC).date()
    if fmt == "date":
        return [(today - timedelta(days=d)).isoformat() for d in (5, 25, 45, 400, -30)]
    if fmt == "date-time":
        return [datetime.now(UTC).replace(microsecond=0).isoformat()]
    if fmt == "email":
        return ["someone@example.in"]
    if fmt == "time":
        return ["10:30:00+05:30"]
    if fmt in ("uri", "iri"):
        return ["https://example.in/"]
    if "pattern" in schema:
        found = []
        for want in (max(low, 1), 4, 8, 14, high):
            text = _pattern_sample(str(schema["pattern"]), want)
            if text is not None and low <= len(text) <= high and text not in found:
                found.append(text)
        return found
    base = "Sample 1234567890 text for the form"
    text = (base * (1 + low // len(base)))[: max(low, min(high, 14))]
    return [text.rstrip() if len(text.rstrip()) >= low else text]


def _numbers(schema: dict[str, Any], integer: bool) -> list[Any]:
    low = schema.get("minimum")
    if low is None and "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + 1
    high = schema.get("maximum")
    if high is None and "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1
    start = 1 if low is None else low
    found: list[Any] = []
    for size in (start, 50, 100, 200, 250, 400, 1000):
        value = max(size, start) if high is None else min(max(size, start), high)
        value = int(value) if integer else value
        if value not in found:
            found.append(value)
    return found


def candidates(schema: Any) -> list[Any]:
    """Values for ``schema``, the plainest first; every enum value, both booleans, several sizes."""
    if not isinstance(schema, dict):
        return [None]
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return objects(schema)
    if kind == "string":
        return _strings(schema) or [None]
    if kind in ("integer", "number"):
        return _numbers(schema, kind == "integer")
    if kind == "boolean":
        return [False, True]
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        count = int(schema.get("minItems", 0))
        pool = candidates(items)
        if schema.get("uniqueItems"):
            return [pool[:count]] if len(pool) >= count else [None]
        return [[pool[0]] * count]
    if kind == "null":
        return [None]
    return [None]


def objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One object with every property's plainest value, then one per other value of each property,
    then the same with only the required properties."""
    props: dict[str, Any] = schema.get("properties", {})
    options = {name: candidates(sub) for name, sub in props.items()}
    base = {name: values[0] for name, values in options.items() if values and values[0] is not None}
    found = [base]
    for name, values in options.items():
        for value in values[1:]:
            if value is not None:
                found.append({**base, name: value})
    required = set(schema.get("required", []))
    found.extend({k: v for k, v in form.items() if k in required} for form in list(found))
    return found


def _satisfying(conditions: list[dict[str, Any]], schema: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
    """``start`` changed so that each condition holds, where a candidate value of its field does."""
    form = dict(start)
    today = datetime.now(UTC).date()
    props = schema.get("properties", {})
    for cond in conditions:
        if "field" not in cond:
            continue  # a condition on the day of assessment: no answer makes it hold
        top = cond["field"].split(".")[0]
        if "." in cond["field"] or holds(cond, form, today):
            continue
        options = candidates(props.get(top, {}))
        if cond["op"] in ("eq", "in") and "value" in cond:
            options = [cond["value"], *cond["value"]] if isinstance(cond["value"], list) else [cond["value"], *options]
        for value in options:
            if holds(cond, {**form, top: value}, today):
                form[top] = value
                break
    return form


@dataclass
class Forms:
    """Valid forms for one service: for walking the workflow, and for self-certification."""

    walk: dict[str, Any] | None
    self_certified: dict[str, Any] | None
    problem: str | None


def forms_for(definition: dict[str, Any]) -> Forms:
    schema = definition["form"]["schema"]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    today = datetime.now(UTC).date()
    found = objects(schema)
    wf = definition["workflow"]
    self_cert = wf.get("self_certification")
    fees = definition.get("fees") or {}
    # Forms that meet each fee item's and each document's conditions, and the self-certification's.
    for item in fees.get("items", []):
        found.extend(_satisfying(item.get("when", []), schema, form) for form in found[:1])
    for doc in definition.get("documents", []):
        found.extend(_satisfying(doc.get("required_if", []), schema, form) for form in found[:1])
    if self_cert:
        found.extend(_satisfying(self_cert["when"], schema, form) for form in list(found))
    valid = [form for form in found if validator.is_valid(form)]
    if not valid:
        errors = sorted({e.message for form in found[:3] for e in validator.iter_errors(form)})
        return Forms(None, None, "could not generate valid form data from form.schema: " + "; ".join(errors[:5]))

    def certified(form: dict[str, Any]) -> bool:
        return bool(self_cert and all_hold(self_cert["when"], form, today))

    def fee(form: dict[str, Any]) -> int:
        return total(assess_fees(fees, form, today))

    walking = [form for form in valid if not certified(form)]
    walk = max(walking, key=fee) if walking else None  # a form with a fee: the counter is walked too
    certifying = [form for form in valid if certified(form)]
    return Forms(walk, certifying[0] if certifying else None, None)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class ServiceReport:
    service: str
    local_body: str
    states: list[str] = field(default_factory=list)  # entered
    actions: list[str] = field(default_factory=list)  # taken
    applications: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class PackReport:
    pack: str
    services: list[ServiceReport]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.services)


class _Recorder:
    """The SMS sender of the scratch runtime: keeps the texts, so the citizen can read their code."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(
        self,
        to: str,
        text: str,
        *,
        idempotency_key: str,
        dlt_template_id: str | None = None,
        dlt_entity_id: str | None = None,
        header: str | None = None,
    ) -> str | None:
        self.sent.append((to, text))
        return None


@dataclass
class Snapshot:
    """What the API would answer about an application after a step."""

    number: str
    version: int
    state: str
    is_open: bool
    outcome: str | None
    fee_paid: bool
    fee_total: int
    unverified_documents: int


class StepFailed(Exception):
    pass


class Run:
    """One scratch database with one pack loaded; services are walked one after another."""

    def __init__(self, pack: Pack, workdir: Path) -> None:
        self.pack = pack
        packs_dir = workdir / "packs"
        packs_dir.mkdir()
        (packs_dir / pack.code).symlink_to(pack.directory.resolve(), target_is_directory=True)
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{(workdir / 'pack-test.db').as_posix()}",
            var_dir=workdir,
            packs_dir=packs_dir,
            worker_embedded=False,
            files_backend="local",  # uploads go under the temporary folder, whatever the environment says
            log_json=False,
        )
        self.sms = _Recorder()
        # Officers' passwords are hashed cheaply: the database is thrown away at the end.
        self.rt: Runtime = build_runtime(
            settings, sms=self.sms, hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        )
        upgrade(self.rt.db.engine)
        with self.rt.db.unit_of_work() as session:
            load_pack(session, pack)
        self.people: dict[tuple[str, str], str | None] = {}  # (role, local body) -> user id, None: cannot be held
        self.why_not: dict[tuple[str, str], str] = {}
        self.citizen = self._citizen()
        roles = {r["code"]: r for r in pack.roles}
        self.collector_role = next(
            (code for code, r in roles.items() if "payments:payment:collect" in r["permissions"] and r["scope"] != "self"),
            None,
        )

    def close(self) -> None:
        self.rt.db.dispose()

    @contextmanager
    def step(self, user_id: str | None = None) -> Iterator[tuple[Session, Any]]:
        """One unit of work acting as ``user_id`` (signed in as by a bearer token), like one request."""
        with self.rt.db.unit_of_work() as session:
            principal = None
            if user_id is not None:
                user = session.get(User, user_id)
                if user is None:
                    raise RuntimeError(f"the pack test's user {user_id} is missing")
                principal = identity.load_principal(session, user, "bearer")
                context.bind_actor(principal.user_id, principal.kind)
            yield session, principal

    def _citizen(self) -> str:
        """A citizen signing in with the code sent to their phone."""
        with self.step() as (session, _):
            issued = identity.request_otp(session, state_code=self.pack.code, mobile=CITIZEN_MOBILE, ip=None)
        worker = Worker(self.rt.db)
        for job in worker.claim():
            worker.handle(job)
        code = re.search(r"\d{4,}", self.sms.sent[-1][1]) if self.sms.sent else None
        if code is None:
            raise RuntimeError("no sign-in code was sent to the citizen's phone")
        with self.step() as (session, _):
            user = identity.verify_otp(
                session, state_code=self.pack.code, challenge_id=issued.challenge_id, mobile=CITIZEN_MOBILE, code=code.group()
            )
            return user.id

    def holder(self, role: str, body: str) -> str | None:
        """The officer holding ``role`` over ``body``, created on first use; None when nobody can hold it."""
        if role == APPLICANT:
            return self.citizen
        key = (role, body)
        if key in self.people:
            return self.people[key]
        scope = next((r["scope"] for r in self.pack.roles if r["code"] == role), None)
        ward = None
        if scope == "ward":
            with self.step() as (session, _):
                ward = session.scalar(select(Ward.code).where(Ward.local_body_code == body).order_by(Ward.number))
        place = identity.Place(self.pack.code, None if scope == "state" else body, ward)
        username = f"pt.{len(self.people)}.{role.replace('_', '-')}"
        try:
            with self.step() as (session, _):
                created = identity.create_officer(
                    session,
                    None,
                    state_code=self.pack.code,
                    username=username,
                    name=f"Pack test {role}",
                    password=OFFICER_PASSWORD,
                    role=role,
                    place=place,
                )
                self.people[key] = created.user.id
        except Problem as exc:
            self.people[key] = None
            self.why_not[key] = _reason(exc)
        return self.people[key]


def _reason(exc: Problem) -> str:
    errors = exc.extra.get("errors") or []
    details = "; ".join(str(e.get("msg")) for e in errors if isinstance(e, dict))
    return f"{exc.detail}: {details}" if details and details not in exc.detail else str(exc.detail)


def _snapshot(session: Session, app: Application) -> Snapshot:
    docs = applications.documents(session, app)
    return Snapshot(
        number=app.number,
        version=app.version,
        state=app.state,
        is_open=app.is_open,
        outcome=app.outcome,
        fee_paid=app.fee_paid,
        fee_total=app.fee_total,
        unverified_documents=sum(1 for d in docs if d.verified_at is None),
    )


class Walker:
    """Walks one service at one local body."""

    def __init__(self, run: Run, code: str, body: str, definition: dict[str, Any]) -> None:
        self.run, self.code, self.body, self.d = run, code, body, definition
        self.wf = definition["workflow"]
        self.report = ServiceReport(code, body)
        self.entered: set[str] = set()
        self.taken: set[str] = set()
        self.refusals: dict[str, str] = {}  # action or state -> why it failed
        self.ward: int | None = None
        with run.step() as (session, _):
            self.ward = session.scalar(select(Ward.number).where(Ward.local_body_code == body).order_by(Ward.number))

    # -- steps, each one unit of work ---------------------------------------------------------

    def submit(self, form: dict[str, Any]) -> Snapshot:
        citizen = self.run.citizen
        with self.run.step(citizen) as (session, principal):
            app = applications.create(
                session, principal, tenant=self.body, service_code=self.code, data=form, submit=False, ward=self.ward
            )
            number, version = app.number, app.version
        for doc in self.d.get("documents", []):
            content, media = (PDF, "application/pdf") if "application/pdf" in doc["media_types"] else (PNG, "image/png")
            with self.run.step(citizen) as (session, principal):
                applications.upload(
                    session,
                    principal,
                    number,
                    doc_type=doc["code"],
                    filename=f"{doc['code']}.{media.split('/')[1]}",
                    declared=media,
                    content=content,
                )
        with self.run.step(citizen) as (session, principal):
            app = applications.act(session, principal, number, action=SUBMIT, comment=None, version=version)
            snap = _snapshot(session, app)
        self.report.applications += 1
        self.taken.add(SUBMIT)
        self.entered.add(snap.state)
        return snap

    def act(self, snap: Snapshot, action: dict[str, Any]) -> Snapshot:
        """Take ``action`` as the first of its roles somebody holds here; raise StepFailed saying why not."""
        code = action["code"]
        holders = [(role, self.run.holder(role, self.body)) for role in action["roles"]]
        acting = [(role, user) for role, user in holders if user is not None]
        if not acting:
            why = "; ".join(self.run.why_not.get((role, self.body), "") for role in action["roles"])
            raise StepFailed(f"nobody can hold {', '.join(action['roles'])} at {self.body}: {why}")
        errors = []
        for role, user in acting:
            try:
                with self.run.step(user) as (session, principal):
                    comment = f"{code} (pack test, as {role})"
                    app = applications.act(session, principal, snap.number, action=code, comment=comment, version=snap.version)
                    after = _snapshot(session, app)
            except Problem as exc:
                errors.append(f"as {role}: {_reason(exc)}")
                continue
            except Exception as exc:  # noqa: BLE001 - reported as this step's failure, with its type, not swallowed
                errors.append(f"as {role}: {type(exc).__name__}: {exc}")
                continue
            self.taken.add(code)
            self.entered.add(after.state)
            return after
        raise StepFailed("; ".join(errors))

    def pay(self, snap: Snapshot) -> Snapshot:
        """The counter clerk takes the fee in cash, exactly what the demand costs today."""
        role = self.run.collector_role
        clerk = self.run.holder(role, self.body) if role else None
        if clerk is None:
            raise StepFailed("nobody can take a fee at the counter: no role of roles.yaml grants payments:payment:collect here")
        try:
            with self.run.step(clerk) as (session, principal):
                demand = demand_of_application(session, principal, snap.number)
                if demand is None:
                    raise StepFailed(f"the fee of {snap.fee_total} paise has no demand the counter clerk can see")
                due, _lines = amount_due(session, demand, local_day(session, demand.state_code, utcnow()))
                counter.counter_payment(
                    session, principal, demand.number, method="cash", amount=due, instrument=None, idempotency_key=None
                )
                app = applications.get(session, principal, snap.number)
                after = _snapshot(session, app)
        except Problem as exc:
            raise StepFailed(f"paying the fee at the counter: {_reason(exc)}") from exc
        except StepFailed:
            raise
        except Exception as exc:  # re-raised as this step's failure, with its type
            raise StepFailed(f"paying the fee at the counter: {type(exc).__name__}: {exc}") from exc
        if not after.fee_paid:
            raise StepFailed("the counter payment did not mark the fee paid")
        self.entered.add(after.state)
        return after

    # -- paths ----------------------------------------------------------------------------------

    def actions_from(self, state: str) -> list[dict[str, Any]]:
        return [a for a in self.wf["actions"] if state in a["from"]]

    def path(self, start: str, goal: str) -> list[str] | None:
        """The shortest list of actions from ``start`` to ``goal``, through the office's states when it can."""
        applicant_states = {s for s, v in self.wf["states"].items() if v.get("role") == APPLICANT} - {goal}
        for avoid in (applicant_states, set()):
            queue: deque[tuple[str, list[str]]] = deque([(start, [])])
            seen = {start}
            while queue:
                here, steps = queue.popleft()
                if here == goal:
                    return steps
                if self.wf["states"].get(here, {}).get("final"):
                    continue
                for a in self.actions_from(here):
                    to = a["to"]
                    if to != STAY and to not in seen and to not in avoid:
                        seen.add(to)
                        queue.append((to, [*steps, a["code"]]))
        return None

    def take(self, snap: Snapshot, action: dict[str, Any]) -> Snapshot:
        """Take ``action``, first paying the fee and having the documents verified if its guards ask."""
        guards = action.get("guards", [])
        effects = action.get("effects", [])
        if "fee_paid" in guards and snap.fee_total > 0 and not snap.fee_paid:
            snap = self.pay(snap)
        if "documents_verified" in guards and snap.unverified_documents and "verify_documents" not in effects:
            verifier = next((a for a in self.actions_from(snap.state) if "verify_documents" in a.get("effects", [])), None)
            if verifier is not None:
                before = snap.state
                snap = self.act(snap, verifier)
                if snap.state != before and snap.state not in action["from"]:
                    return snap
        return self.act(snap, action)

    def walk(self, snap: Snapshot, goal: str) -> Snapshot:
        """Move ``snap`` to ``goal`` one step at a time; raise StepFailed naming the step that failed."""
        for _ in range(4 * len(self.wf["states"]) + 4):
            if snap.state == goal:
                return snap
            steps = self.path(snap.state, goal)
            if not steps:
                raise StepFailed(f"no path of actions from {snap.state!r} to {goal!r}")
            action = next(a for a in self.wf["actions"] if a["code"] == steps[0])
            before = snap.state
            try:
                snap = self.take(snap, action)
            except StepFailed as exc:
                self.refusals.setdefault(action["code"], f"from {before!r}: {exc}")
                raise StepFailed(f"{action['code']!r} from {before!r}: {exc}") from exc
        raise StepFailed(f"did not reach {goal!r}")

    # -- the walk of one service ----------------------------------------------------------------

    def run_all(self, forms: Forms) -> ServiceReport:
        states: dict[str, Any] = self.wf["states"]
        finals = [s for s, v in states.items() if v.get("final")]
        for role in sorted(self.roles_named()):
            if self.run.holder(role, self.body) is None:
                self.report.problems.append(
                    f"role {role!r} (named by the workflow) cannot be held at {self.body}: "
                    f"{self.run.why_not.get((role, self.body), '')}"
                )
        if forms.walk is None:
            if forms.problem:
                self.report.problems.append(forms.problem)
            elif not forms.self_certified:
                self.report.problems.append("no form data could be generated")
        else:
            for final in finals:
                self.attempt(f"state {final!r}", forms.walk, functools.partial(self.walk, goal=final))
            for action in self.wf["actions"]:
                if action["code"] not in self.taken:
                    self.attempt(f"action {action['code']!r}", forms.walk, functools.partial(self.reach_and_take, action=action))
            self.appeals(forms.walk)
        if "self_certification" in self.wf:
            self.self_certification(forms)
        self.findings()
        self.report.states = sorted(self.entered)
        self.report.actions = sorted(self.taken)
        return self.report

    def roles_named(self) -> set[str]:
        wf = self.wf
        roles = {wf["designated_officer"]}
        for st in wf["states"].values():
            roles.update(r for r in (st.get("role"), st.get("escalate_to")) if r)
        for a in wf["actions"]:
            roles.update(a["roles"])
        for level in (wf.get("appeals") or {}).values():
            if isinstance(level, dict):
                roles.add(level["role"])
        return roles - {APPLICANT}

    def attempt(self, what: str, form: dict[str, Any], go: Callable[[Snapshot], Snapshot]) -> Snapshot | None:
        try:
            snap = self.submit(form)
        except Problem as exc:
            self.refusals.setdefault(SUBMIT, _reason(exc))
            self.report.problems.append(f"{what}: submitting the generated form was refused: {_reason(exc)}")
            return None
        except Exception as exc:  # noqa: BLE001 - reported as this walk's failure, with its type, not swallowed
            self.report.problems.append(f"{what}: submitting failed: {type(exc).__name__}: {exc}")
            return None
        try:
            return go(snap)
        except StepFailed as exc:
            self.refusals.setdefault(what, str(exc))
            return None

    def reach_and_take(self, snap: Snapshot, action: dict[str, Any]) -> Snapshot:
        sources = [s for s in action["from"] if s in self.entered] or list(action["from"])
        last: StepFailed | None = None
        for source in sources:
            try:
                snap = self.walk(snap, source)
            except StepFailed as exc:
                last = exc
                continue
            before = snap.state
            try:
                return self.take(snap, action)
            except StepFailed as exc:
                self.refusals.setdefault(action["code"], f"from {before!r}: {exc}")
                raise
        raise StepFailed(str(last) if last else "none of its from-states is reached")

    def appeals(self, form: dict[str, Any]) -> None:
        appeals = self.wf.get("appeals") or {}
        if not appeals:
            return
        rejected = next((s for s, v in self.wf["states"].items() if v.get("final") and v.get("outcome") == "rejected"), None)
        if rejected is None:
            self.report.problems.append(
                "appeals: no final state with outcome 'rejected', so an appeal can only follow a missed time limit "
                "(not walked)"
            )
            return

        def appeal(role: str, decide: str) -> dict[str, Any]:
            return {"code": decide, "roles": [role]}

        def go(snap: Snapshot) -> Snapshot:
            snap = self.walk(snap, rejected)
            snap = self.act(snap, {"code": APPEAL, "roles": [APPLICANT]})
            if snap.state != FIRST_APPEAL:
                raise StepFailed(f"the first appeal went to {snap.state!r}, not {FIRST_APPEAL!r}")
            if "second" in appeals:
                snap = self.act(snap, appeal(appeals["first"]["role"], DISMISS_APPEAL))
                snap = self.act(snap, {"code": APPEAL, "roles": [APPLICANT]})
                if snap.state != SECOND_APPEAL:
                    raise StepFailed(f"the second appeal went to {snap.state!r}, not {SECOND_APPEAL!r}")
                snap = self.act(snap, appeal(appeals["second"]["role"], ALLOW_APPEAL))
            else:
                snap = self.act(snap, appeal(appeals["first"]["role"], ALLOW_APPEAL))
            back = appeals.get("allow_to", self.wf["start"])
            if snap.state != back:
                raise StepFailed(f"the allowed appeal sent the application to {snap.state!r}, not {back!r}")
            approved = next((s for s, v in self.wf["states"].items() if v.get("final") and v.get("outcome") == "approved"), None)
            return self.walk(snap, approved) if approved else snap

        if self.attempt("appeals", form, go) is None and "appeals" in self.refusals:
            self.report.problems.append(f"appeals: {self.refusals['appeals']}")

    def self_certification(self, forms: Forms) -> None:
        target = self.wf["self_certification"]["to"]
        if forms.self_certified is None:
            self.report.problems.append(
                f"self-certification to {target!r}: no generated form meets its conditions (not walked)"
            )
            return

        def go(snap: Snapshot) -> Snapshot:
            if snap.fee_total > 0 and not snap.fee_paid:
                snap = self.pay(snap)
            if snap.state != target:
                raise StepFailed(f"a self-certified application went to {snap.state!r}, not {target!r}")
            return snap

        if self.attempt("self-certification", forms.self_certified, go) is None and "self-certification" in self.refusals:
            self.report.problems.append(f"self-certification: {self.refusals['self-certification']}")

    def findings(self) -> None:
        states: dict[str, Any] = self.wf["states"]
        leads_to: dict[str, list[str]] = {s: [] for s in states}
        for a in self.wf["actions"]:
            if a["to"] in leads_to:
                leads_to[a["to"]].append(a["code"])
        special = {
            self.wf["start"],
            (self.wf.get("self_certification") or {}).get("to"),
            (self.wf.get("appeals") or {}).get("allow_to"),
        }
        for name in states:
            if name in self.entered:
                continue
            if not leads_to[name] and name not in special:
                why = "no action leads to it"
            elif f"state {name!r}" in self.refusals:
                why = self.refusals[f"state {name!r}"]
            else:
                failed = [f"{c!r}: {self.refusals[c]}" for c in leads_to[name] if c in self.refusals]
                why = "; ".join(failed) or f"the actions leading to it ({', '.join(leads_to[name])}) were never possible"
            self.report.problems.append(f"state {name!r} was never reached: {why}")
        for a in self.wf["actions"]:
            code = a["code"]
            if code in self.taken:
                continue
            reachable = [s for s in a["from"] if s in self.entered]
            if code in self.refusals:
                why = self.refusals[code]
            elif f"action {code!r}" in self.refusals:
                why = self.refusals[f"action {code!r}"]
            elif not reachable:
                why = f"none of its from-states ({', '.join(a['from'])}) was reached"
            else:
                why = "it was never possible"
            self.report.problems.append(f"action {code!r} was never taken: {why}")


def bodies_for(pack: Pack, code: str, definition: dict[str, Any]) -> list[str]:
    """The first local body (by code) of the first type that offers the service, and every body that overrides it."""
    by_type = sorted(pack.local_bodies, key=lambda b: b["code"])
    chosen: list[str] = []
    for body_type in definition["offered_by"]:
        first = next((b for b in by_type if b["type"] == body_type), None)
        if first is not None:
            chosen.append(f"{pack.code}.{first['code']}")
            break
    for b in by_type:
        services = (b.get("overrides") or {}).get("services") or {}
        full = f"{pack.code}.{b['code']}"
        if code in services and full not in chosen and b["type"] in definition["offered_by"]:
            chosen.append(full)
    return chosen


def walk_pack(
    pack: Pack, *, services: list[str] | None = None, progress: Callable[[ServiceReport], None] | None = None
) -> PackReport:
    """Walk every service of ``pack`` (or those named) on a scratch database and report what could not be reached."""
    token = context.set_context(context.ActorContext(actor_kind="system", via="cli", request_id="pack-test"))
    try:
        with tempfile.TemporaryDirectory(prefix="nagara-pack-test-") as tmp:
            run = Run(pack, Path(tmp))
            try:
                reports = []
                for code, definition in pack.services.items():
                    if services and code not in services:
                        continue
                    bodies = bodies_for(pack, code, definition)
                    if not bodies:
                        report = ServiceReport(code, "-")
                        report.problems.append(
                            f"no local body of the pack is of a type that offers it ({', '.join(definition['offered_by'])})"
                        )
                        reports.append(report)
                        if progress:
                            progress(report)
                        continue
                    forms = forms_for(definition)
                    for body in bodies:
                        with run.step() as (session, _):
                            effective = catalog.get_service(session, body, code).definition
                        report = Walker(run, code, body, effective).run_all(
                            forms if effective == definition else forms_for(effective)
                        )
                        reports.append(report)
                        if progress:
                            progress(report)
                return PackReport(pack.code, reports)
            finally:
                run.close()
    finally:
        context.reset_context(token)

