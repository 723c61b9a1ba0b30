"""Import every domain's tables and job handlers, so metadata and the job registry are complete."""

from __future__ import annotations


def load_all() -> None:
    pass
