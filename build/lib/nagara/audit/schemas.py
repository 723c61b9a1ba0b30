from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    request_id: str | None
    actor_id: str | None
    actor_kind: str
    via: str
    ip: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    tenant_code: str | None
    changes: list[str] | None
    data: dict[str, Any] | None
