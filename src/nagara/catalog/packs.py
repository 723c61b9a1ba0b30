"""The catalog's part of a pack: ``services/*.yaml`` become service versions.

Tenancy reads and validates the pack (with :func:`nagara.catalog.definitions.check_service`)
and calls :func:`load_services` from ``tenancy.service.load_pack``; both are registered
in ``domains.py``, as tenancy sits below the catalog.

A service version is what an application is made under and carried through: its definition,
the template of its output type and the pack's certificate layout, as loaded. Loading a pack
makes a new version of each service where any of the three changed, and withdraws the services
the pack no longer has (none of their versions stays current): they are no longer offered, and
the applications already made under them keep their version and go on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.models import ServiceVersion
from nagara.tenancy.packs import Pack, ServiceChanges


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _parts(pack: Pack, definition: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The template and layout a service's output is printed from; (None, None) for a service without output."""
    output = definition.get("output")
    if not output:
        return None, None
    # The pack was validated: every output type has its template (certificates.templates.pack_problems).
    return pack.certificates["templates"][output["type"]], pack.certificates.get("layout")


def version_digest(pack: Pack, definition: dict[str, Any]) -> str:
    """What makes a version: the definition, and for a service with an output its template and layout."""
    template, layout = _parts(pack, definition)
    if template is None:
        return _sha(definition)
    return _sha({"definition": definition, "template": template, "layout": layout})


def _versions(session: Session, state_code: str) -> dict[str, list[ServiceVersion]]:
    out: dict[str, list[ServiceVersion]] = {}
    rows = session.scalars(select(ServiceVersion).where(ServiceVersion.state_code == state_code).order_by(ServiceVersion.id))
    for row in rows:
        out.setdefault(row.code, []).append(row)
    return out


def _legacy(row: ServiceVersion) -> bool:
    """Loaded before versions kept their output's template (revision catalog0002)."""
    return row.certificate_template is None and bool(row.definition.get("output"))


def load_services(session: Session, pack: Pack) -> int:
    """A new version for each service whose definition, template or layout changed; withdraw the ones the pack lost."""
    loaded = _versions(session, pack.code)
    for code, definition in pack.services.items():
        digest = version_digest(pack, definition)
        versions = loaded.get(code, [])
        template, layout = _parts(pack, definition)
        for v in versions:
            if _legacy(v) and v.definition.get("output", {}).get("type") in pack.certificates["templates"]:
                # Stored before templates were: give it the template it was printed from until now (the pack's).
                v.certificate_template = _plain(pack.certificates["templates"][v.definition["output"]["type"]])
                v.certificate_layout = pack.certificates.get("layout")
                if v.digest == _sha(definition):
                    v.digest = digest
        same = next((v for v in versions if v.digest == digest), None)
        if same is not None and same.is_current:
            continue
        for v in versions:
            v.is_current = False
        if same is not None:  # the pack went back to an earlier definition
            same.is_current = True
            continue
        session.add(
            ServiceVersion(
                state_code=pack.code,
                code=code,
                version=max((v.version for v in versions), default=0) + 1,
                digest=digest,
                definition=_plain(definition),
                certificate_template=_plain(template) if template is not None else None,
                certificate_layout=layout,
                is_current=True,
            )
        )
    for code, versions in loaded.items():
        if code not in pack.services:
            for v in versions:
                v.is_current = False
    session.flush()
    return len(pack.services)


def compare_services(session: Session, pack: Pack) -> ServiceChanges:
    """What loading ``pack`` would change in the state's services, and which are withdrawn already."""
    loaded = _versions(session, pack.code)
    current = {code: next((v for v in versions if v.is_current), None) for code, versions in loaded.items()}
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    withdrawn: list[str] = []
    for code, definition in sorted(pack.services.items()):
        row = current.get(code)
        if row is None:
            added.append(code)
        elif row.digest != version_digest(pack, definition):
            changed.append(code)
    for code, row in sorted(current.items()):
        if code not in pack.services:
            (removed if row is not None else withdrawn).append(code)
    return ServiceChanges(added=added, removed=removed, changed=changed, withdrawn=withdrawn)
