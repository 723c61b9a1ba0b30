"""Reading, validating and loading a state's pack (``packs/<state>/``).

Validation collects every error (file, path inside it, what was expected)
before anything is written; loading happens in the caller's unit of work, so
a pack that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from nagara.identity.permissions import PERMISSIONS

SCHEMA_FILES = ("common", "pack", "calendar", "districts", "local_bodies", "wards", "roles")
REQUIRED_FILES = ("pack.yaml", "calendar.yaml", "districts.yaml", "local_bodies.yaml", "roles.yaml")
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
    digest: str = ""
    files: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.meta["code"])


def _load_schemas() -> dict[str, Draft202012Validator]:
    base = resources.files("nagara.tenancy") / "schemas"
    raw = {name: json.loads((base / f"{name}.schema.json").read_text(encoding="utf-8")) for name in SCHEMA_FILES}
    registry: Registry[Any] = Registry().with_resources(
        (raw[name]["$id"], Resource.from_contents(raw[name])) for name in SCHEMA_FILES
    )
    registry = registry.with_resources(
        (f"{name}.schema.json", Resource.from_contents(raw[name])) for name in SCHEMA_FILES
    )
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
        return error.message.replace("is a required property", "is required")
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


def _check_names(col: _Collector, rel: str, path: str, names: Any, languages: list[str]) -> None:
    if not isinstance(names, dict):
        return
    missing = [lang for lang in languages if not names.get(lang)]
    if missing:
        col.add(rel, path, f"name lacks the pack language(s) {', '.join(missing)}; every name needs {', '.join(languages)}")


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return [v for v, n in Counter(values).items() if n > 1]


def read_pack(directory: Path) -> Pack:
    """Read and validate a pack; raise :class:`InvalidPack` listing every error."""
    directory = Path(directory)
    col = _Collector(directory)
    if not directory.is_dir():
        raise InvalidPack(directory, [PackError(str(directory), "", "is not a directory")])

    docs: dict[str, Any] = {}
    for rel, schema in (
        ("pack.yaml", "pack"),
        ("calendar.yaml", "calendar"),
        ("districts.yaml", "districts"),
        ("local_bodies.yaml", "local_bodies"),
        ("roles.yaml", "roles"),
    ):
        data = col.read_yaml(rel)
        if data is not None or (directory / rel).exists():
            if col.check_schema(rel, schema, data):
                docs[rel] = data
    ward_docs: dict[str, Any] = {}
    wards_dir = directory / "wards"
    if wards_dir.is_dir():
        for path in sorted(wards_dir.glob("*.yaml")):
            rel = f"wards/{path.name}"
            data = col.read_yaml(rel)
            if col.check_schema(rel, "wards", data):
                ward_docs[rel] = data

    if "pack.yaml" not in docs:
        raise InvalidPack(directory, col.errors or [PackError("pack.yaml", "", "invalid")])
    meta = docs["pack.yaml"]
    languages: list[str] = meta["languages"]
    _check_names(col, "pack.yaml", "name", meta["name"], languages)

    calendar = docs.get("calendar.yaml") or {}
    for i, hol in enumerate(calendar.get("holidays", [])):
        _check_names(col, "calendar.yaml", f"holidays[{i}].name", hol["name"], languages)

    districts = (docs.get("districts.yaml") or {}).get("districts", [])
    for i, d in enumerate(districts):
        _check_names(col, "districts.yaml", f"districts[{i}].name", d["name"], languages)
    for dup in _duplicates(d["code"] for d in districts):
        col.add("districts.yaml", "districts", f"district code {dup!r} is used more than once; codes must be unique")
    for dup in _duplicates(d["lgd_code"] for d in districts):
        col.add("districts.yaml", "districts", f"LGD code {dup} is used by more than one district")
    district_codes = {d["code"] for d in districts}

    bodies = (docs.get("local_bodies.yaml") or {}).get("local_bodies", [])
    body_codes = {b["code"] for b in bodies}
    for dup in _duplicates(b["code"] for b in bodies):
        col.add("local_bodies.yaml", "local_bodies", f"local body code {dup!r} is used more than once; codes must be unique")
    for dup in _duplicates(b["lgd_code"] for b in bodies if b["lgd_code"] is not None):
        col.add("local_bodies.yaml", "local_bodies", f"LGD code {dup} is used by more than one local body")
    for i, b in enumerate(bodies):
        where = f"local_bodies[{i}]"
        _check_names(col, "local_bodies.yaml", f"{where}.name", b["name"], languages)
        if "districts.yaml" in docs and b["district"] not in district_codes:
            col.add(
                "local_bodies.yaml",
                f"{where}.district",
                f"district {b['district']!r} is not in districts.yaml; expected one of: {', '.join(sorted(district_codes))}",
            )
        if "parent" in b and b["parent"] not in body_codes:
            col.add("local_bodies.yaml", f"{where}.parent", f"parent {b['parent']!r} is not a local body of this pack")
        for j, hol in enumerate(b.get("overrides", {}).get("calendar", {}).get("holidays", [])):
            _check_names(col, "local_bodies.yaml", f"{where}.overrides.calendar.holidays[{j}].name", hol["name"], languages)

    wards: dict[str, list[dict[str, Any]]] = {}
    for rel, doc in ward_docs.items():
        lb = doc["local_body"]
        if Path(rel).stem != lb:
            col.add(rel, "local_body", f"file is named for {Path(rel).stem!r} but says local_body {lb!r}; they must match")
        if bodies and lb not in body_codes:
            col.add(rel, "local_body", f"local body {lb!r} is not in local_bodies.yaml")
        for dup in _duplicates(w["number"] for w in doc["wards"]):
            col.add(rel, "wards", f"ward number {dup} appears more than once")
        for i, w in enumerate(doc["wards"]):
            _check_names(col, rel, f"wards[{i}].name", w["name"], languages)
        wards[lb] = doc["wards"]

    roles = (docs.get("roles.yaml") or {}).get("roles", [])
    role_codes = [r["code"] for r in roles]
    for dup in _duplicates(role_codes):
        col.add("roles.yaml", "roles", f"role {dup!r} is defined more than once")
    if "roles.yaml" in docs:
        for missing in [r for r in REQUIRED_ROLES if r not in role_codes]:
            col.add("roles.yaml", "roles", f"role {missing!r} is required; every pack defines {', '.join(REQUIRED_ROLES)}")
    for i, r in enumerate(roles):
        _check_names(col, "roles.yaml", f"roles[{i}].name", r["name"], languages)
        for j, perm in enumerate(r["permissions"]):
            if perm not in PERMISSIONS:
                col.add("roles.yaml", f"roles[{i}].permissions[{j}]", f"unknown permission {perm!r}; known permissions: {', '.join(sorted(PERMISSIONS))}")

    if col.errors:
        raise InvalidPack(directory, col.errors)

    files = sorted(p for p in directory.rglob("*.yaml"))
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
        digest=digest.hexdigest(),
        files=[p.relative_to(directory).as_posix() for p in files],
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """State-level definitions with a local body's overrides on top.

    Mappings merge key by key; lists of holidays are added to, other values replaced.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        elif key == "holidays" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + copy.deepcopy(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def discover(packs_dir: Path) -> list[Path]:
    return sorted(p.parent for p in Path(packs_dir).glob("*/pack.yaml"))
