"""An application's form data, sealed at rest (personal data) with the application's id as context."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session, object_session

from nagara.applications.models import Application
from nagara.runtime import runtime_of


def unseal_data(app: Application) -> dict[str, Any]:
    session = object_session(app)
    if session is None:
        raise RuntimeError("application is detached")
    data: dict[str, Any] = json.loads(runtime_of(session).cipher.decrypt(app.data_sealed, context=f"application:{app.id}"))
    return data


def seal_data(session: Session, app: Application, data: dict[str, Any]) -> None:
    app.data_sealed = runtime_of(session).cipher.encrypt(json.dumps(data, ensure_ascii=False), context=f"application:{app.id}")
