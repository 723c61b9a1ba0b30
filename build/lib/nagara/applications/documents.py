"""Documents attached to an application: checked by content, stored in the file store."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from nagara.applications.models import Application, Document
from nagara.catalog.definitions import Service
from nagara.catalog.rules import all_hold
from nagara.kit.errors import Invalid


def document_rules(service: Service) -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in service.definition.get("documents", [])}


def required_codes(service: Service, data: dict[str, Any], today: date) -> list[str]:
    return [
        d["code"]
        for d in service.definition.get("documents", [])
        if d.get("required") or (d.get("required_if") and all_hold(d["required_if"], data, today))
    ]


def missing_documents(service: Service, app: Application, docs: list[Document], data: dict[str, Any] | None = None) -> list[str]:
    if data is None:
        from nagara.applications.service import unseal_data

        data = unseal_data(app)
    have = {d.doc_type for d in docs}
    return [code for code in required_codes(service, data, (app.submitted_at or app.created_at).date()) if code not in have]


def check_upload(service: Service, doc_type: str, filename: str, declared: str | None, content: bytes) -> tuple[str, str]:
    """Return (media type by content, sha256) or raise a 422 that says what is allowed."""
    from nagara.kit.files import sniff_media_type

    rules = document_rules(service)
    if doc_type not in rules:
        raise Invalid(
            "unknown document type",
            [
                {
                    "loc": ["body", "type"],
                    "msg": f"{doc_type!r} is not a document of this service; expected one of: {', '.join(rules) or 'none'}",
                    "type": "enum",
                }
            ],
        )
    rule = rules[doc_type]
    if not content:
        raise Invalid("empty file", [{"loc": ["body", "file"], "msg": "the file is empty", "type": "value_error"}])
    if len(content) > rule["max_bytes"]:
        raise Invalid(
            "file too large",
            [
                {
                    "loc": ["body", "file"],
                    "msg": f"the file is {len(content):,} bytes; at most {rule['max_bytes']:,} bytes are allowed",
                    "type": "too_large",
                }
            ],
        )
    actual = sniff_media_type(content)
    if actual is None or actual not in rule["media_types"]:
        what = f"its content is {actual}" if actual else "its content is not a recognised file type"
        named = f" (it is named {filename!r}{f' and declared as {declared}' if declared else ''})"
        raise Invalid(
            "wrong file type",
            [{"loc": ["body", "file"], "msg": f"{what}{named}; allowed: {', '.join(rule['media_types'])}", "type": "media_type"}],
        )
    return actual, hashlib.sha256(content).hexdigest()
