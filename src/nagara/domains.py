"""Import every domain's tables and job handlers, so metadata and the job registry are complete."""

from __future__ import annotations


def load_all() -> None:
    import nagara.audit.models
    import nagara.identity.models
    import nagara.identity.service
    import nagara.tenancy.models
    import nagara.worker.models  # noqa: F401
