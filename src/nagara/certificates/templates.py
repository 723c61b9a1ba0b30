"""Certificate templates from the packs: ``packs/<state>/certificates/<output type>.yaml``.

A template says what a certificate prints, in the state's language and English:
its title, what it certifies, which of the application's fields it shows, the
register's code for the registration number, the signing officer's designation
and the words in the seal area. ``certificate.yaml`` in the same folder is the
template for an output type that has none of its own. The layout (HTML and CSS)
ships with the package and may be replaced by a pack's ``certificates/layout.html``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "template.schema.json").read_text(encoding="utf-8"))
DEFAULT = "certificate"


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    path: Path
    definition: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.definition["type"])

    @property
    def number_prefix(self) -> str:
        return str(self.definition["number_prefix"])

    def text(self, key: str) -> dict[str, str] | None:
        value = self.definition.get(key)
        return dict(value) if isinstance(value, dict) else None


def template_errors(path: Path, definition: Any, languages: list[str]) -> list[str]:
    """Every problem with one template: file, path inside it, and what was expected."""
    errors = [
        f"{path}: {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in Draft202012Validator(SCHEMA).iter_errors(definition)
    ]
    if errors or not isinstance(definition, dict):
        return errors
    expected = path.stem if path.stem != DEFAULT else definition["type"]
    if definition["type"] != expected:
        errors.append(f"{path}: type: {definition['type']!r} must match the file name {path.stem!r}")

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict) and "en" in value and all(isinstance(v, str) for v in value.values()):
            missing = [lang for lang in languages if lang not in value]
            if missing:
                errors.append(
                    f"{path}: {where}: the text lacks {', '.join(missing)}; every text is needed in {', '.join(languages)}"
                )
        elif isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{where}/{key}" if where else key)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(inner, f"{where}/{i}")

    walk(definition, "")
    return errors


def pack_templates(pack_dir: Path, languages: list[str]) -> tuple[dict[str, Template], list[str]]:
    """All templates of one pack, and the errors found (empty when all are valid)."""
    found: dict[str, Template] = {}
    errors: list[str] = []
    for path in sorted((pack_dir / "certificates").glob("*.yaml")):
        try:
            definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            errors.append(f"{path}: not valid YAML: {exc}")
            continue
        problems = template_errors(path, definition, languages)
        errors.extend(problems)
        if not problems:
            found[path.stem] = Template(path, definition)
    return found, errors


@lru_cache(maxsize=64)
def _load(pack_dir: Path, languages: tuple[str, ...], mtime: float) -> dict[str, Template]:
    found, errors = pack_templates(pack_dir, list(languages))
    if errors:
        raise TemplateError("; ".join(errors))
    return found


def template_for(packs_dir: Path, state_code: str, output_type: str, languages: list[str]) -> Template:
    pack_dir = Path(packs_dir) / state_code
    folder = pack_dir / "certificates"
    mtime = max((p.stat().st_mtime for p in folder.glob("*.yaml")), default=0.0)
    found = _load(pack_dir, tuple(languages), mtime)
    template = found.get(output_type) or found.get(DEFAULT)
    if template is None:
        raise TemplateError(f"the {state_code} pack has no certificate template for {output_type!r} (nor {DEFAULT}.yaml)")
    return template


def layout_override(packs_dir: Path, state_code: str) -> str | None:
    path = Path(packs_dir) / state_code / "certificates" / "layout.html"
    return path.read_text(encoding="utf-8") if path.exists() else None


def pack_problems(pack_dir: Path, languages: list[str], services: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """For ``nagara pack validate``: (file, path, message) for each template problem and each output with no template."""
    found, errors = pack_templates(pack_dir, languages)
    problems = [("certificates", "", message) for message in errors]
    printed_by: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for code, definition in services.items():
        output = definition.get("output") if isinstance(definition, dict) else None
        if not isinstance(output, dict):
            continue
        template = found.get(str(output.get("type"))) or found.get(DEFAULT)
        if template is not None:
            printed_by.setdefault(template.path.stem, []).append((code, definition))
        if output.get("type") not in found and DEFAULT not in found:
            problems.append(
                (
                    f"services/{code}.yaml",
                    "output.type",
                    f"no template certificates/{output.get('type')}.yaml (nor {DEFAULT}.yaml)",
                )
            )
    for name, users in printed_by.items():
        problems.extend(_fields_missing(found[name], users))
    return problems


def _form_fields(definition: dict[str, Any]) -> set[str]:
    form = definition.get("form")
    schema = form.get("schema") if isinstance(form, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return set(properties) if isinstance(properties, dict) else set()


def _fields_missing(template: Template, users: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """A template field that no form of the services printing it has would be dropped from every certificate.

    A template shared by several services (a new licence and its renewal) may print a field only
    some of their forms have; a field none of them has is a mistake.
    """
    fields = set().union(*(_form_fields(definition) for _, definition in users))
    services = ", ".join(f"services/{code}.yaml" for code, _ in users)
    return [
        (
            f"certificates/{template.path.name}",
            f"fields[{i}].field",
            f"{item['field']!r} is not a field of the form of {services}; fields: {', '.join(sorted(fields))}",
        )
        for i, item in enumerate(template.definition["fields"])
        if item["field"] not in fields
    ]
