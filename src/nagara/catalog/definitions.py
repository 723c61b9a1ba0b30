"""A service definition: checks beyond its JSON Schema, and a small reader over it.

The pack loader calls :func:`check_service` for every ``services/*.yaml``; each
problem comes back as ``(path, message)`` so the loader can name the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from nagara.catalog.rules import date_problem
from nagara.tenancy.packs import missing_languages_message, texts
from nagara.tenancy.packs_merge import deep_merge

APPLICANT = "applicant"
STAY = "="
# Built-in actions every workflow has; packs name the roles and limits.
SUBMIT, APPEAL, ALLOW_APPEAL, DISMISS_APPEAL, ESCALATE = "submit", "appeal", "allow_appeal", "dismiss_appeal", "escalate"
FIRST_APPEAL, SECOND_APPEAL, APPEAL_DISMISSED, DRAFT = "first_appeal", "second_appeal", "appeal_dismissed", "draft"


def _names_missing(names: Any, languages: list[str]) -> list[str]:
    if not isinstance(names, dict):
        return []
    return [lang for lang in languages if not names.get(lang)]


def unanswered_conditions(form_schema: dict[str, Any]) -> list[tuple[str, str]]:
    """``if`` conditions that an unanswered question satisfies.

    In JSON Schema ``{"if": {"properties": {"place_of_birth": {"const": "hospital"}}}}`` holds
    when ``place_of_birth`` is absent (``properties`` checks only what is there), so its ``then``
    would ask for the hospital's name before anyone said the birth was in a hospital. The
    condition must also list the fields it tests under ``required``.
    """
    found: list[tuple[str, str]] = []
    branches = [("form.schema.if", form_schema.get("if"))]
    branches += [(f"form.schema.allOf[{i}].if", part.get("if")) for i, part in enumerate(form_schema.get("allOf", []))]
    for path, condition in branches:
        if not isinstance(condition, dict):
            continue
        tested = set(condition.get("properties", {}))
        unlisted = sorted(tested - set(condition.get("required", [])))
        if unlisted:
            names = ", ".join(unlisted)
            found.append((path, f"the condition holds while {names} is unanswered: add required: [{names}] to it"))
    return found


def check_service(definition: dict[str, Any], *, roles: set[str], languages: list[str]) -> list[tuple[str, str]]:
    """Problems a schema cannot see: dangling states, unknown roles, fees on missing fields."""
    problems: list[tuple[str, str]] = []
    form_schema = definition["form"]["schema"]
    try:
        Draft202012Validator.check_schema(form_schema)
    except SchemaError as exc:
        problems.append(("form.schema", f"not a valid JSON Schema 2020-12: {exc.message}"))
    if form_schema.get("type") != "object":
        problems.append(("form.schema.type", "the form schema must be of type object"))
    fields = set(form_schema.get("properties", {}))
    problems.extend(unanswered_conditions(form_schema))
    ui = definition["form"].get("ui", {})
    for i, name in enumerate(ui.get("order", [])):
        if name not in fields:
            problems.append((f"form.ui.order[{i}]", f"{name!r} is not a property of form.schema"))
    for name in ui.get("fields", {}):
        if name not in fields:
            problems.append((f"form.ui.fields.{name}", f"{name!r} is not a property of form.schema"))

    def check_field(path: str, field: str) -> None:
        if field.split(".", maxsplit=1)[0] not in fields:
            problems.append((path, f"field {field!r} is not in the form; fields: {', '.join(sorted(fields))}"))

    def check_fee_condition(path: str, cond: dict[str, Any]) -> None:
        if "field" in cond:
            check_field(f"{path}.field", cond["field"])
        elif (problem := date_problem(cond)) is not None:
            problems.append((f"{path}.value", problem))

    docs = [d["code"] for d in definition.get("documents", [])]
    if len(docs) != len(set(docs)):
        problems.append(("documents", "document codes must be unique"))
    for i, doc in enumerate(definition.get("documents", [])):
        for j, cond in enumerate(doc.get("required_if", [])):
            check_field(f"documents[{i}].required_if[{j}].field", cond["field"])
    fee_codes = set()
    for i, item in enumerate(definition.get("fees", {}).get("items", [])):
        fee_codes.add(item["code"])
        if "field" in item:
            check_field(f"fees.items[{i}].field", item["field"])
        for j, cond in enumerate(item.get("when", [])):
            check_fee_condition(f"fees.items[{i}].when[{j}]", cond)
    for i, ex in enumerate(definition.get("fees", {}).get("exemptions", [])):
        for j, code in enumerate(ex["waives"]):
            if code not in fee_codes:
                problems.append((f"fees.exemptions[{i}].waives[{j}]", f"no fee item {code!r}"))
        for j, cond in enumerate(ex["when"]):
            check_fee_condition(f"fees.exemptions[{i}].when[{j}]", cond)

    wf = definition["workflow"]
    states: dict[str, Any] = wf["states"]
    known_roles = roles | {APPLICANT}

    def check_role(path: str, role: str) -> None:
        if role not in known_roles:
            problems.append((path, f"role {role!r} is not in roles.yaml; roles: {', '.join(sorted(known_roles))}"))

    def check_state(path: str, state: str, *, may_be_final: bool = True) -> None:
        if state not in states:
            problems.append((path, f"state {state!r} is not defined; states: {', '.join(states)}"))
        elif not may_be_final and states[state].get("final"):
            problems.append((path, f"state {state!r} is final"))

    for reserved in (DRAFT, FIRST_APPEAL, SECOND_APPEAL, APPEAL_DISMISSED):
        if reserved in states:
            problems.append((f"workflow.states.{reserved}", f"{reserved!r} is a built-in state; choose another name"))
    check_state("workflow.start", wf["start"], may_be_final=False)
    check_role("workflow.designated_officer", wf["designated_officer"])
    for name, st in states.items():
        if "role" in st:
            check_role(f"workflow.states.{name}.role", st["role"])
        if "escalate_to" in st:
            check_role(f"workflow.states.{name}.escalate_to", st["escalate_to"])
    if not any(st.get("final") for st in states.values()):
        problems.append(("workflow.states", "no final state: an application could never be decided"))
    action_codes = [a["code"] for a in wf["actions"]]
    for code in {c for c in action_codes if action_codes.count(c) > 1}:
        problems.append(("workflow.actions", f"action {code!r} is defined more than once"))
    for i, action in enumerate(wf["actions"]):
        if action["code"] in (SUBMIT, APPEAL, ALLOW_APPEAL, DISMISS_APPEAL, ESCALATE):
            problems.append((f"workflow.actions[{i}].code", f"{action['code']!r} is a built-in action"))
        for j, src in enumerate(action["from"]):
            check_state(f"workflow.actions[{i}].from[{j}]", src, may_be_final=False)
        if action["to"] != STAY:
            check_state(f"workflow.actions[{i}].to", action["to"])
        for j, role in enumerate(action["roles"]):
            check_role(f"workflow.actions[{i}].roles[{j}]", role)
    # Where an application can be put without a pack action: the start, the self-certified
    # decision and the state an allowed appeal reopens.
    entries = [wf["start"], wf.get("self_certification", {}).get("to"), wf.get("appeals", {}).get("allow_to")]
    reachable = {s for s in entries if s in states}
    frontier = list(reachable)
    while frontier:
        here = frontier.pop()
        for action in wf["actions"]:
            if here in action["from"] and action["to"] not in reachable and action["to"] in states:
                reachable.add(action["to"])
                frontier.append(action["to"])
    if states and not any(states[s].get("final") for s in reachable if s in states):
        problems.append(("workflow.actions", f"no final state can be reached from {wf['start']!r}"))
    for name in states:
        if name not in reachable:
            message = f"no action reaches state {name!r} from {wf['start']!r}: add an action to it or remove it"
            problems.append((f"workflow.states.{name}", message))
    if "self_certification" in wf:
        check_state("workflow.self_certification.to", wf["self_certification"]["to"])
        for j, cond in enumerate(wf["self_certification"]["when"]):
            check_field(f"workflow.self_certification.when[{j}].field", cond["field"])
    appeals = wf.get("appeals", {})
    for level in ("first", "second"):
        if level in appeals:
            check_role(f"workflow.appeals.{level}.role", appeals[level]["role"])
    if "allow_to" in appeals:
        check_state("workflow.appeals.allow_to", appeals["allow_to"], may_be_final=False)
    # Every text a citizen may see (names, labels, help, options, documents, fee items, states and
    # actions) carries every language the pack is checked in: the portal's four and the pack's own.
    for path, names in texts(definition):
        missing = _names_missing(names, languages)
        if missing:
            problems.append((path, missing_languages_message(missing, languages)))
    return problems


@dataclass(frozen=True)
class Service:
    """Read access to one definition (with a local body's overrides already applied)."""

    state_code: str
    definition: dict[str, Any]
    version_id: int

    @property
    def code(self) -> str:
        return str(self.definition["code"])

    @property
    def workflow(self) -> dict[str, Any]:
        return dict(self.definition["workflow"])

    def state(self, name: str) -> dict[str, Any]:
        if name == DRAFT:
            return {"role": APPLICANT, "name": {"en": "Draft"}}
        if name in (FIRST_APPEAL, SECOND_APPEAL):
            level = "first" if name == FIRST_APPEAL else "second"
            appeal = self.workflow["appeals"][level]
            return {
                "role": appeal["role"],
                "sla_days": appeal["decide_in_days"],
                "name": {"en": name.replace("_", " ").capitalize()},
            }
        if name == APPEAL_DISMISSED:
            return {"final": True, "outcome": "rejected", "name": {"en": "Appeal dismissed"}}
        return dict(self.workflow["states"][name])

    def is_final(self, name: str) -> bool:
        return bool(self.state(name).get("final"))

    def actions(self) -> list[dict[str, Any]]:
        return list(self.workflow["actions"])


def with_overrides(definition: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """A local body's ``overrides.services.<code>`` merged over the state's definition."""
    if not overrides:
        return definition
    return deep_merge(definition, overrides)
