"""Grievance categories: a state's ``grievances.yaml`` (a pack part, see ``tenancy.packs.PackExtra``).

Each category names its department, the handler and time limit at each level (L1 ward or
section officer, L2 secretary or head of department, L3 district or state officer), the
attributes asked (Open311 service-definition attributes), whether a location is required,
whether the grievance is public, and whether resolving it needs a photo. A local body may
override a category key by key under ``overrides.grievances.<code>`` in ``local_bodies.yaml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nagara.grievances.models import GrievanceCategory
from nagara.kit.errors import NotFound
from nagara.tenancy.context import body_place, for_pack, thaw
from nagara.tenancy.packs import ExtraContext, Pack
from nagara.tenancy.packs_merge import deep_merge

FILE = "grievances.yaml"
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
MAX_LEVELS = 3
SLUG = "^[a-z][a-z0-9-]{1,62}$"
_TEXT = {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string", "minLength": 1}}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reopen_within_days", "close_after_days", "poor_rating_below", "categories"],
    "properties": {
        "reopen_within_days": {"type": "integer", "minimum": 1, "maximum": 90},
        "close_after_days": {"type": "integer", "minimum": 1, "maximum": 90},
        "poor_rating_below": {"type": "integer", "minimum": 2, "maximum": 5},
        "area": {
            "description": "the state's outline, [latitude, longitude] corners: a point filed must lie inside",
            "type": "array",
            "minItems": 3,
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        },
        "categories": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "name", "help", "department", "public", "location_required", "levels"],
                "properties": {
                    "code": {"type": "string", "pattern": SLUG},
                    "name": _TEXT,
                    "help": _TEXT,
                    "department": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["code", "name"],
                        "properties": {"code": {"type": "string", "pattern": SLUG}, "name": _TEXT},
                    },
                    "public": {"type": "boolean"},
                    "location_required": {"type": "boolean"},
                    "resolution_photo": {"type": "boolean"},
                    "levels": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_LEVELS,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["role", "jurisdiction", "days"],
                            "properties": {
                                "role": {"type": "string"},
                                "jurisdiction": {"enum": ["ward", "section", "local_body", "district", "state"]},
                                "days": {"type": "integer", "minimum": 1, "maximum": 21},
                            },
                        },
                    },
                    "attributes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["code", "datatype", "required", "description"],
                            "properties": {
                                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                                "datatype": {"enum": list(DATATYPES)},
                                "required": {"type": "boolean"},
                                "description": _TEXT,
                                "values": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["key", "name"],
                                        "properties": {"key": {"type": "string", "pattern": SLUG}, "name": _TEXT},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


def check(data: Any, context: ExtraContext) -> list[tuple[str, str]]:
    """The problems of a pack's ``grievances.yaml`` (its texts' languages are checked by tenancy)."""
    problems: list[tuple[str, str]] = []
    for err in sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        problems.append((path, err.message))
    if problems:
        return problems
    codes = [c["code"] for c in data["categories"]]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(("categories", f"category {code!r} is defined more than once"))
    for i, cat in enumerate(data["categories"]):
        for j, level in enumerate(cat["levels"]):
            if level["role"] not in context.roles:
                problems.append(
                    (
                        f"categories[{i}].levels[{j}].role",
                        f"role {level['role']!r} is not in roles.yaml; roles: {', '.join(sorted(context.roles))}",
                    )
                )
        names = [a["code"] for a in cat.get("attributes", [])]
        for code in sorted({c for c in names if names.count(c) > 1}):
            problems.append((f"categories[{i}].attributes", f"attribute {code!r} is defined more than once"))
        for j, attr in enumerate(cat.get("attributes", [])):
            where = f"categories[{i}].attributes[{j}]"
            if attr["datatype"] in LIST_TYPES and not attr.get("values"):
                problems.append((f"{where}.values", f"a {attr['datatype']} attribute lists its values"))
            if attr["datatype"] not in LIST_TYPES and "values" in attr:
                problems.append((f"{where}.values", f"only list attributes have values, not {attr['datatype']}"))
    return problems


def load(session: Session, pack: Pack, data: Any) -> int:
    """Write the pack's categories; those it no longer has are withdrawn (grievances keep their code)."""
    keys = ("reopen_within_days", "close_after_days", "poor_rating_below", "area")
    settings = {k: data[k] for k in keys if k in data} if data else {}
    categories = data["categories"] if data else []
    session.execute(update(GrievanceCategory).where(GrievanceCategory.state_code == pack.code).values(active=False))
    for position, cat in enumerate(categories):
        row = session.get(GrievanceCategory, (pack.code, cat["code"])) or GrievanceCategory(
            state_code=pack.code, code=cat["code"]
        )
        row.definition = {**cat, "settings": settings}
        row.position = position
        row.active = True
        session.add(row)
    session.flush()
    return len(categories)


@dataclass(frozen=True)
class Category:
    """One category with a local body's overrides applied."""

    state_code: str
    definition: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.definition["code"])

    @property
    def public(self) -> bool:
        return bool(self.definition["public"])

    @property
    def location_required(self) -> bool:
        return bool(self.definition["location_required"])

    @property
    def resolution_photo(self) -> bool:
        return bool(self.definition.get("resolution_photo", False))

    @property
    def department(self) -> str:
        return str(self.definition["department"]["code"])

    @property
    def levels(self) -> list[dict[str, Any]]:
        return list(self.definition["levels"])

    def level(self, n: int) -> dict[str, Any]:
        """Level ``n`` (1-based); past the last, the last (there is nobody higher to go to)."""
        return self.levels[min(n, len(self.levels)) - 1]

    @property
    def attributes(self) -> list[dict[str, Any]]:
        return list(self.definition.get("attributes", []))

    @property
    def settings(self) -> dict[str, int]:
        return dict(self.definition["settings"])

    def name(self, language: str) -> str:
        names = self.definition["name"]
        return str(names.get(language) or names["en"])


def categories(session: Session, state_code: str) -> list[Category]:
    """The state's categories, read once per loaded pack (``tenancy.context.for_pack``)."""

    def read() -> list[Category]:
        rows = session.scalars(
            select(GrievanceCategory)
            .where(GrievanceCategory.state_code == state_code, GrievanceCategory.active.is_(True))
            .order_by(GrievanceCategory.position)
        )
        return [Category(state_code, row.definition) for row in rows]

    return for_pack(session, state_code, ("grievances.categories",), read)


def for_body(session: Session, local_body_code: str) -> list[Category]:
    """The categories offered at a local body, its ``overrides.grievances`` applied."""
    place = body_place(session, local_body_code)
    overrides = place.body.overrides.get("grievances") or {}
    return [
        Category(c.state_code, deep_merge(c.definition, thaw(overrides[c.code]))) if c.code in overrides else c
        for c in categories(session, place.state.code)
    ]


def get(session: Session, local_body_code: str, code: str) -> Category:
    found = next((c for c in for_body(session, local_body_code) if c.code == code), None)
    if found is None:
        offered = ", ".join(c.code for c in for_body(session, local_body_code))
        raise NotFound(f"no grievance category {code!r} here; categories: {offered or 'none'}")
    return found


def check_attribute(attr: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` is not a valid answer to ``attr`` (None when it is)."""
    kind = attr["datatype"]
    keys = [v["key"] for v in attr.get("values", [])]
    if kind in ("string", "text"):
        if not isinstance(value, str):
            return "expected text"
        limit = 200 if kind == "string" else 2000
        return f"at most {limit} characters" if len(value) > limit else None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "expected a number"
        if not math.isfinite(value):
            return "expected a finite number"
        return None if abs(value) <= 10**12 else "expected a number between -10^12 and 10^12"
    if kind == "datetime":
        if not isinstance(value, str):
            return "expected a date (YYYY-MM-DD)"
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return "expected a date (YYYY-MM-DD)"
        return None
    if kind == "singlevaluelist":
        return None if isinstance(value, str) and value in keys else f"expected one of: {', '.join(keys)}"
    if not isinstance(value, list) or not value or any(not isinstance(v, str) or v not in keys for v in value):
        return f"expected a list of one or more of: {', '.join(keys)}"
    return None
