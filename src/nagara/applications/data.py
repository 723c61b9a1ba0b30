"""An application's form data, sealed at rest (personal data) with the application's id as context."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from nagara.applications.models import Application
from nagara.applications.search import write_terms
from nagara.runtime import runtime_of


def unseal_data(app: Application) -> dict[str, Any]:
    session = object_session(app)
    if session is None:
        raise RuntimeError("application is detached")
    data: dict[str, Any] = json.loads(runtime_of(session).cipher.decrypt(app.data_sealed, context=f"application:{app.id}"))
    return data


def seal_data(session: Session, app: Application, data: dict[str, Any]) -> None:
    """Seal the form, and rewrite the keyed hashes it is searched by (``search.py``) with it."""
    app.data_sealed = runtime_of(session).cipher.encrypt(json.dumps(data, ensure_ascii=False), context=f"application:{app.id}")
    write_terms(session, app, data)


def reindex(session: Session, *, after: str = "", batch: int = 500) -> tuple[int, str | None]:
    """Rewrite the search terms of the next ``batch`` applications by id after ``after``.

    Returns how many were done and the last id (None when none were left): applications
    sealed before the search terms existed get theirs (``nagara applications reindex``).
    """
    apps = list(session.scalars(select(Application).where(Application.id > after).order_by(Application.id).limit(batch)))
    for app in apps:
        write_terms(session, app, unseal_data(app))
    session.flush()
    return len(apps), apps[-1].id if apps else None
