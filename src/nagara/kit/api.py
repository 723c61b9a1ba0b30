"""Conventions shared by every domain's router."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response
from pydantic import BaseModel

API_PREFIX = "/api/v1"
# Bounds of integer query parameters, so a number no column or LIMIT can hold is a 422, not a 500.
MAX_OFFSET = 1_000_000_000
MAX_TREE_SIZE = 2**53  # ledger indexes and tree sizes (exact in every JSON reader)


def json_response(
    model: BaseModel | Sequence[BaseModel], status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialise in the endpoint's own thread and hand FastAPI a finished response.

    A synchronous endpoint that returns a model has it validated and serialised by
    FastAPI in a second thread-pool task, *before* the unit of work commits. If every
    pool thread is waiting on a row lock held by a request that still needs a thread
    to serialise, nothing moves (seen in bench/applications.py). Returning a response
    means the transaction commits as soon as the endpoint returns. ``response_model``
    on the route keeps the OpenAPI description.
    """
    single = isinstance(model, BaseModel)
    body = model.model_dump_json() if single else "[" + ",".join(m.model_dump_json() for m in model) + "]"  # type: ignore[union-attr]
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)
