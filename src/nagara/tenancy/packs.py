"""Reading, validating and loading a state's pack (``packs/<state>/``).

Validation collects every error (file, path inside it, what was expected)
before anything is written; loading happens in the caller's unit of work, so
a pack that fails half-way leaves nothing behind.

Tenancy reads every file of a pack but does not know what some parts mean: the
permissions in ``roles.yaml`` (identity), the service definitions in ``services/``
and the service versions loaded from them (catalog), the templates in
``certificates/`` (certificates). Those domains sit above tenancy, so they hand
their checks and their loader in through :func:`register` (``nagara.domains.load_all``
does it). Until then a pack is neither validated nor loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from sqlalchemy.orm import Session

SCHEMA_FILES = ("common", "pack", "calendar", "districts", "local_bodies", "wards", "roles", "service", "notifications")
REQUIRED_FILES = ("pack.yaml", "calendar.yaml", "districts.yaml", "local_bodies.yaml", "roles.yaml", "notifications.yaml")
# The portal's languages are nagara.web.i18n.LANGUAGES; a pack's texts carry the languages the pack
# declares in pack.yaml, plus English (the fallback of every page). Kerala and Karnataka declare the
# four southern/national ones (en, ml, kn, hi); Jammu and Kashmir declares en, hi, ur.
FALLBACK_LANGUAGE = "en"
LANGUAGE_CODES = frozenset({"ml", "kn", "hi", "en", "ta", "te", "mr", "bn", "gu", "pa", "or", "as", "ur"})
REQUIRED_ROLES = (
    "citizen",
    "operator",
    "counter_clerk",
    "section_clerk",
    "officer",
    "secretary",
    "appellate_authority",
    "state_admin",
    "auditor",
)


@dataclass(frozen=True)
class PackError:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top)'}: {self.message}"


class InvalidPack(Exception):
    def __init__(self, directory: Path, errors: list[PackError]) -> None:
        self.directory = directory
        self.errors = errors
        super().__init__(f"pack {directory} has {len(errors)} error(s):\n" + "\n".join(f"  {e}" for e in errors))


@dataclass
class Pack:
    directory: Path
    meta: dict[str, Any]
    calendar: dict[str, Any]
    districts: list[dict[str, Any]]
    local_bodies: list[dict[str, Any]]
    wards: dict[str, list[dict[str, Any]]]
    roles: list[dict[str, Any]]
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What certificates/ holds, as its domain reads it (templates by output type, the layout): loaded with the services.
    certificates: dict[str, Any] = field(default_factory=dict)
    # The optional parts that domains above tenancy add (PackExtra), as each read them: by file name.
    extras: dict[str, Any] = field(default_factory=dict)
    # notifications.yaml: the messages of each event (checked by the notifications domain), kept on the state.
    notifications: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    files: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.meta["code"])


class ServiceCheck(Protocol):
    def __call__(self, definition: dict[str, Any], *, roles: set[str], languages: list[str]) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class PackParts:
    """What the domains above tenancy check in a pack, and how they load their part of it.

    ``check_role(role)``: (path inside the role, message) for each problem, such as an unknown
    permission. ``check_service(definition, roles=, languages=)``: (path, message) for each
    problem of one schema-valid ``services/*.yaml``. ``check_certificates(directory, languages,
    services)``: (file, path, message) for the pack's ``certificates/`` and the outputs of its
    services. ``read_certificates(directory, languages)``: what the pack keeps of ``certificates/``
    once valid. ``check_notifications(document, languages)``: (path, message) for each problem of a
    schema-valid ``notifications.yaml`` (variables, SMS length).
    ``load_services(session, pack)``: writes the services (those the pack no longer
    has are withdrawn) and returns how many. ``compare_services(session, pack)``: the services
    the pack would add, withdraw and change against what is loaded, and those withdrawn already.
    """

    check_role: Callable[[dict[str, Any]], list[tuple[str, str]]]
    check_service: ServiceCheck
    check_certificates: Callable[[Path, list[str], dict[str, dict[str, Any]]], list[tuple[str, str, str]]]
    read_certificates: Callable[[Path, list[str]], dict[str, Any]]
    load_services: Callable[[Session, Pack], int]
    compare_services: Callable[[Session, Pack], ServiceChanges]
    check_notifications: Callable[[dict[str, Any], list[str]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ServiceChanges:
    """A pack's services beside the state's loaded ones: what loading it would do, by service code."""

    added: list[str] = field(default_factory=list)  # in the pack, never loaded or withdrawn: loading offers them
    removed: list[str] = field(default_factory=list)  # offered now, not in the pack: loading withdraws them
    changed: list[str] = field(default_factory=list)  # definition, template or layout differ: loading makes a new version
    withdrawn: list[str] = field(default_factory=list)  # loaded once, withdrawn by a load, not in the pack

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class PackExtra:
    """An optional part of a pack that a domain above tenancy owns: one YAML file at the pack's top.

    ``file``: its name (``grievances.yaml``). ``check(data, context)``: (path inside the file,
    message) for each problem, ``context`` giving the pack's ``roles`` (codes), ``languages``
    (every text needs them; tenancy checks the texts too) and ``wards`` (local body code -> ward
    numbers). ``load(session, pack, data)``: writes the part (``data`` is None when the pack has no
    such file: what an earlier load wrote is withdrawn) and returns how many items it loaded.
    A pack without the file is valid: the domain's feature is simply not offered in that state.
    """

    file: str
    check: Callable[[Any, ExtraContext], list[tuple[str, str]]]
    load: Callable[[Session, Pack, Any], int]


@dataclass(frozen=True)
class ExtraContext:
    roles: set[str]
    languages: list[str]
    wards: dict[str, set[int]]
    local_bodies: set[str]


_PARTS: PackParts | None = None
_EXTRAS: dict[str, PackExtra] = {}


def register_extra(extra: PackExtra) -> None:
    """Add an optional pack part (``nagara.domains.load_all`` does it); registering again replaces it."""
    _EXTRAS[extra.file] = extra


def extras() -> list[PackExtra]:
    return list(_EXTRAS.values())


def register(parts: PackParts) -> None:
    """Give tenancy the checks and the loader of the parts of a pack that other domains own."""
    global _PARTS  # noqa: PLW0603 - set once at start-up (domains.load_all), read-only afterwards
    _PARTS = parts


def registered() -> PackParts:
    """The registered parts; a pack is never validated or loaded with a check missing."""
    if _PARTS is None:
        raise RuntimeError(
            "no checks are registered for the parts of a pack that other domains own (roles' permissions, "
            "services/, certificates/): call nagara.domains.load_all() before reading or loading a pack"
        )
    return _PARTS


def _load_schemas() -> dict[str, Draft202012Validator]:
    base = resources.files("nagara.tenancy") / "schemas"
    raw = {name: json.loads((base / f"{name}.schema.json").read_text(encoding="utf-8")) for name in SCHEMA_FILES}
    registry: Registry[Any] = Registry().with_resources(
        (raw[name]["$id"], Resource.from_contents(raw[name])) for name in SCHEMA_FILES
    )
    registry = registry.with_resources((f"{name}.schema.json", Resource.from_contents(raw[name])) for name in SCHEMA_FILES)
    return {
        name: Draft202012Validator(raw[name], registry=registry, format_checker=FormatChecker())
        for name in SCHEMA_FILES
        if name != "common"
    }


_VALIDATORS: dict[str, Draft202012Validator] | None = None


def validators() -> dict[str, Draft202012Validator]:
    global _VALIDATORS  # noqa: PLW0603 - compiled once per process, read-only afterwards
    if _VALIDATORS is None:
        _VALIDATORS = _load_schemas()
    return _VALIDATORS


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _expected(error: Any) -> str:
    """Say what was expected in words a pack author understands."""
    validator = error.validator
    if validator == "required":
        return str(error.message).replace("is a required property", "is required")
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if validator == "enum":
        return f"{error.instance!r} is not allowed; expected one of: {', '.join(map(str, error.validator_value))}"
    if validator == "pattern":
        return f"{error.instance!r} does not match the expected pattern {error.validator_value}"
    if validator == "anyOf":
        return f"{error.instance!r} is not valid here: {'; or '.join(_expected(e) for e in error.context)}"
    if validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return str(error.message)


class _Collector:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.errors: list[PackError] = []

    def add(self, file: str, path: str, message: str) -> None:
        self.errors.append(PackError(file, path, message))

    def read_yaml(self, rel: str) -> Any:
        path = self.directory / rel
        try:
            with path.open(encoding="utf-8") as fh:
                return yaml.safe_load(fh)
        except FileNotFoundError:
            self.add(rel, "", "file is missing")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            self.add(rel, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return None

    def check_schema(self, rel: str, schema: str, data: Any) -> bool:
        errors = sorted(validators()[schema].iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for err in errors:
            self.add(rel, _json_path(err.absolute_path), _expected(err))
        return not errors


def is_text(value: Any) -> bool:
    """A pack's text in several languages: ``{ml: ..., en: ...}`` (keys are language codes, values strings)."""
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= LANGUAGE_CODES
        and all(isinstance(v, str) for v in value.values())
    )


def texts(node: Any, path: str = "") -> Iterable[tuple[str, dict[str, str]]]:
    """Every text of a pack document with its path (``wards[3].name``); a form's JSON Schema is not walked."""
    if is_text(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "schema":
                yield from texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from texts(value, f"{path}[{i}]")


def required_languages(pack_languages: Iterable[str], text_languages: Iterable[str] = ()) -> list[str]:
    """The languages every text of a pack must carry: English, the state's ``languages`` (printed on
    its certificates) and its ``text_languages`` (offered by the portal, not printed)."""
    return list(dict.fromkeys([FALLBACK_LANGUAGE, *pack_languages, *text_languages]))


def missing_languages_message(missing: list[str], required: list[str]) -> str:
    return (
        f"the text lacks {', '.join(missing)}; every text a citizen may see is needed in "
        f"{', '.join(required)} (English and the languages and text_languages pack.yaml declares)"
    )


def _check_texts(col: _Collector, rel: str, doc: Any, required: list[str]) -> None:
    for path, names in texts(doc):
        missing = [lang for lang in required if not names.get(lang)]
        if missing:
            col.add(rel, path, missing_languages_message(missing, required))


def _items(doc: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The mapping entries of ``doc[key]`` with their positions, skipping malformed ones."""
    values = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(values, list):
        return []
    return [(i, v) for i, v in enumerate(values) if isinstance(v, dict)]


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return [v for v, n in Counter(values).items() if n > 1 and v is not None]


def read_pack(directory: Path) -> Pack:
    """Read and validate a pack; raise :class:`InvalidPack` listing every error."""
    parts = registered()
    directory = Path(directory)
    col = _Collector(directory)
    if not directory.is_dir():
        raise InvalidPack(directory, [PackError(str(directory), "", "is not a directory")])

    # Schema errors do not stop the cross-file checks: every error is reported in one run.
    docs: dict[str, Any] = {}
    valid: set[str] = set()
    for rel, schema in (
        ("pack.yaml", "pack"),
        ("calendar.yaml", "calendar"),
        ("districts.yaml", "districts"),
        ("local_bodies.yaml", "local_bodies"),
        ("roles.yaml", "roles"),
        ("notifications.yaml", "notifications"),
    ):
        before = len(col.errors)
        data = col.read_yaml(rel)
        # A missing or unparsable file is reported once, by read_yaml.
        if len(col.errors) == before and col.check_schema(rel, schema, data):
            valid.add(rel)
        docs[rel] = data if isinstance(data, dict) else {}
    ward_docs: dict[str, Any] = {}
    wards_dir = directory / "wards"
    if wards_dir.is_dir():
        for path in sorted(wards_dir.glob("*.yaml")):
            rel = f"wards/{path.name}"
            before = len(col.errors)
            data = col.read_yaml(rel)
            if len(col.errors) == before:
                col.check_schema(rel, "wards", data)
            ward_docs[rel] = data if isinstance(data, dict) else {}

    meta = docs["pack.yaml"]
    languages = [x for x in meta.get("languages") or [] if isinstance(x, str)] or ["en"]
    required = required_languages(languages, [x for x in meta.get("text_languages") or [] if isinstance(x, str)])
    for rel, doc in [*docs.items(), *ward_docs.items()]:
        _check_texts(col, rel, doc, required)

    calendar = docs["calendar.yaml"]
    districts = [d for _, d in _items(docs["districts.yaml"], "districts")]
    for dup in _duplicates(d.get("code") for d in districts):
        col.add("districts.yaml", "districts", f"district code {dup!r} is used more than once; codes must be unique")
    for dup in _duplicates(d.get("lgd_code") for d in districts):
        col.add("districts.yaml", "districts", f"LGD code {dup} is used by more than one district")
    district_codes = {d.get("code") for d in districts}

    bodies = [b for _, b in _items(docs["local_bodies.yaml"], "local_bodies")]
    body_codes = {b.get("code") for b in bodies}
    for dup in _duplicates(b.get("code") for b in bodies):
        col.add("local_bodies.yaml", "local_bodies", f"local body code {dup!r} is used more than once; codes must be unique")
    for dup in _duplicates(b.get("lgd_code") for b in bodies if b.get("lgd_code") is not None):
        col.add("local_bodies.yaml", "local_bodies", f"LGD code {dup} is used by more than one local body")
    for i, b in _items(docs["local_bodies.yaml"], "local_bodies"):
        where = f"local_bodies[{i}]"
        if districts and "district" in b and b["district"] not in district_codes:
            col.add(
                "local_bodies.yaml",
                f"{where}.district",
                f"district {b['district']!r} is not in districts.yaml; "
                f"expected one of: {', '.join(sorted(map(str, district_codes)))}",
            )
        if "parent" in b and b["parent"] not in body_codes:
            col.add("local_bodies.yaml", f"{where}.parent", f"parent {b['parent']!r} is not a local body of this pack")

    wards: dict[str, list[dict[str, Any]]] = {}
    for rel, doc in ward_docs.items():
        lb = doc.get("local_body")
        if lb is not None and Path(rel).stem != lb:
            col.add(rel, "local_body", f"file is named for {Path(rel).stem!r} but says local_body {lb!r}; they must match")
        if bodies and lb is not None and lb not in body_codes:
            col.add(rel, "local_body", f"local body {lb!r} is not in local_bodies.yaml")
        ward_items = [w for _, w in _items(doc, "wards")]
        for dup in _duplicates(w.get("number") for w in ward_items):
            col.add(rel, "wards", f"ward number {dup} appears more than once")
        if isinstance(lb, str):
            wards[lb] = ward_items

    roles = [r for _, r in _items(docs["roles.yaml"], "roles")]
    role_codes = [r.get("code") for r in roles]
    for dup in _duplicates(role_codes):
        col.add("roles.yaml", "roles", f"role {dup!r} is defined more than once")
    if roles:
        for missing in [r for r in REQUIRED_ROLES if r not in role_codes]:
            col.add("roles.yaml", "roles", f"role {missing!r} is required; every pack defines {', '.join(REQUIRED_ROLES)}")
    for i, r in _items(docs["roles.yaml"], "roles"):
        for where, message in parts.check_role(r):
            col.add("roles.yaml", f"roles[{i}].{where}", message)

    services = _read_services(col, directory, {str(c) for c in role_codes}, required, parts.check_service)
    for file, where, message in parts.check_certificates(directory, required, services):
        col.add(file, where, message)
    if "notifications.yaml" in valid:
        for where, message in parts.check_notifications(docs["notifications.yaml"], required):
            col.add("notifications.yaml", where, message)
    for i, b in _items(docs["local_bodies.yaml"], "local_bodies"):
        body_overrides: dict[str, Any] = b["overrides"] if isinstance(b.get("overrides"), dict) else {}
        service_overrides = body_overrides.get("services")
        for code in service_overrides if isinstance(service_overrides, dict) else {}:
            if code not in services:
                col.add("local_bodies.yaml", f"local_bodies[{i}].overrides.services.{code}", f"no service {code!r} in services/")

    extra_data: dict[str, Any] = {}
    context = ExtraContext(
        roles={str(c) for c in role_codes},
        languages=required,
        wards={lb: {w.get("number") for w in ws} for lb, ws in wards.items()},  # type: ignore[misc]
        local_bodies={str(c) for c in body_codes},
    )
    for extra in _EXTRAS.values():
        if not (directory / extra.file).is_file():
            continue
        before = len(col.errors)
        data = col.read_yaml(extra.file)
        if len(col.errors) > before:
            continue
        _check_texts(col, extra.file, data, required)
        for where, message in extra.check(data, context):
            col.add(extra.file, where, message)
        extra_data[extra.file] = data

    if col.errors:
        raise InvalidPack(directory, col.errors)

    certificates = parts.read_certificates(directory, required)
    # Every file a load reads: the YAML and the certificates' layout.
    layout = directory / "certificates" / "layout.html"
    files = sorted(p for p in directory.rglob("*") if p.is_file() and (p.suffix == ".yaml" or p == layout))
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(directory).as_posix().encode() + b"\0" + p.read_bytes())
    return Pack(
        directory=directory,
        meta=meta,
        calendar=calendar,
        districts=districts,
        local_bodies=bodies,
        wards=wards,
        roles=roles,
        services=services,
        certificates=certificates,
        extras=extra_data,
        notifications=docs["notifications.yaml"],
        digest=digest.hexdigest(),
        files=[p.relative_to(directory).as_posix() for p in files],
    )


def _read_services(
    col: _Collector, directory: Path, roles: set[str], languages: list[str], check_service: ServiceCheck
) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = {}
    shorts: dict[str, str] = {}
    for path in sorted((directory / "services").glob("*.yaml")):
        rel = f"services/{path.name}"
        before = len(col.errors)
        data = col.read_yaml(rel)
        if len(col.errors) > before or not col.check_schema(rel, "service", data):
            continue
        if data["code"] != path.stem:
            col.add(rel, "code", f"the file is named {path.stem!r} but the code is {data['code']!r}; they must match")
        if data["short"] in shorts:
            col.add(rel, "short", f"short code {data['short']!r} is already used by {shorts[data['short']]!r}")
        shorts[data["short"]] = data["code"]
        for where, message in check_service(data, roles=roles, languages=languages):
            col.add(rel, where, message)
        services[data["code"]] = data
    for code, data in services.items():
        renewal = data["output"].get("renewal")
        if renewal and renewal["service"] not in services:
            col.add(f"services/{code}.yaml", "output.renewal.service", f"no service {renewal['service']!r} in services/")
    return services


def discover(packs_dir: Path) -> list[Path]:
    return sorted(p.parent for p in Path(packs_dir).glob("*/pack.yaml"))
