"""Conventions shared by every domain's router."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from fastapi import Request, Response
from pydantic import BaseModel

from nagara.kit.errors import Invalid

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


# --- keyset pagination ---------------------------------------------------------------------------
# A list that can grow without bound pages by a cursor (the sort key of the last row shown), not
# an offset: the database goes straight to the next row instead of counting past every earlier one.
MAX_CURSOR = 512


def encode_cursor(key: Sequence[str | None]) -> str:
    """The opaque cursor of a row's sort key (strings or None)."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(raw: str, size: int) -> list[str | None]:
    """The sort key in a cursor made by :func:`encode_cursor`; a 422 naming ``after`` for anything else."""
    try:
        if len(raw) > MAX_CURSOR:
            raise ValueError
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(key, list) or len(key) != size:
            raise ValueError
        for k in key:
            if k is not None and (not isinstance(k, str) or "\x00" in k):
                raise ValueError
            if k is not None:
                k.encode()  # a lone surrogate cannot be sent to the database

    except (ValueError, binascii.Error, UnicodeDecodeError):
        msg = "not a cursor of this list: give the 'after' of the Link header (rel=\"next\") of the page before"
        raise Invalid(msg, [{"loc": ["query", "after"], "msg": msg, "type": "value_error"}]) from None
    return key


def next_link(request: Request, cursor: str) -> dict[str, str]:
    """The ``Link`` header (RFC 8288) of the page after this one: the same query, ``after`` the cursor."""
    url = request.url.remove_query_params(["after", "offset"]).include_query_params(after=cursor)
    return {"Link": f'<{url}>; rel="next"'}
