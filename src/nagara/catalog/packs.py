"""The catalog's part of a pack: ``services/*.yaml`` become service versions.

Tenancy reads and validates the pack (with :func:`nagara.catalog.definitions.check_service`)
and calls :func:`load_services` from ``tenancy.service.load_pack``; both are registered
in ``domains.py``, as tenancy sits below the catalog.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.models import ServiceVersion
from nagara.tenancy.packs import Pack


def load_services(session: Session, pack: Pack) -> int:
    """A new version for each service whose definition changed; applications keep theirs."""
    for code, definition in pack.services.items():
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()
        versions = list(
            session.scalars(select(ServiceVersion).where(ServiceVersion.state_code == pack.code, ServiceVersion.code == code))
        )
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
                definition=json.loads(json.dumps(definition, default=str)),
                is_current=True,
            )
        )
    session.flush()
    return len(pack.services)
