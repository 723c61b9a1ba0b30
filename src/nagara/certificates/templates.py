"""Certificate templates from the packs: ``packs/<state>/certificates/<output type>.yaml``.

A template says what a certificate prints, in the state's language and English:
its title, what it certifies, which of the application's fields it shows, the
register's code for the registration number, the signing officer's designation
and the words in the seal area. Every output type a service names needs its own
template (``certificate.yaml`` is the template of the output type ``certificate``,
nothing more): the pack does not validate, and so does not load, without it.

Templates are read when the pack is read (:func:`pack_part`) and stored with each
service version when it is loaded (``catalog.packs.load_services``); a certificate is
issued from the template of the version its application was made under, never from
the files on disk at that time. The layout (HTML and CSS) ships with the package and
may be replaced by a pack's ``certificates/layout.html``, stored the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "template.schema.json").read_text(encoding="utf-8"))
LAYOUT = "layout.html"


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    source: str  # where it came from, for messages: ``kl pack, certificates/birth-certificate.yaml``
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
    if definition["type"] != path.stem:
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
            found[path.stem] = Template(f"certificates/{path.name}", definition)
    return found, errors


def pack_part(pack_dir: Path, languages: list[str]) -> dict[str, Any]:
    """What a loaded pack keeps of ``certificates/``: every template by output type, and the layout or None.

    Called after validation (:func:`pack_problems` found nothing), so every template is valid.
    """
    found, errors = pack_templates(pack_dir, languages)
    if errors:  # validation ran first; a file changed in between is not loaded half-checked
        raise TemplateError("; ".join(errors))
    layout = pack_dir / "certificates" / LAYOUT
    return {
        "templates": {code: template.definition for code, template in found.items()},
        "layout": layout.read_text(encoding="utf-8") if layout.is_file() else None,
    }


def missing_template(service_code: str, output_type: str) -> str:
    return (
        f"service {service_code!r} issues output type {output_type!r}, but the pack has no template "
        f"certificates/{output_type}.yaml; every output type needs its own template"
    )


def pack_problems(pack_dir: Path, languages: list[str], services: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """For ``nagara pack validate`` and load: (file, path, message) for each template problem and each output with no template."""
    found, errors = pack_templates(pack_dir, languages)
    problems = [("certificates", "", message) for message in errors]
    printed_by: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    invalid = {Path(message.split(":", 1)[0]).stem for message in errors}
    for code, definition in services.items():
        output = definition.get("output") if isinstance(definition, dict) else None
        if not isinstance(output, dict):
            continue
        output_type = str(output.get("type"))
        template = found.get(output_type)
        if template is not None:
            printed_by.setdefault(template.type, []).append((code, definition))
        elif output_type not in invalid:  # an invalid template is reported above
            problems.append((f"services/{code}.yaml", "output.type", missing_template(code, output_type)))
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
            f"certificates/{template.type}.yaml",
            f"fields[{i}].field",
            f"{item['field']!r} is not a field of the form of {services}; fields: {', '.join(sorted(fields))}",
        )
        for i, item in enumerate(template.definition["fields"])
        if item["field"] not in fields
    ]
