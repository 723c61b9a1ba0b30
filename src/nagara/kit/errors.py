"""RFC 9457 problem details for every error the API returns.

Services raise :class:`Problem` subclasses; the app turns them (and FastAPI's
own validation and HTTP errors) into ``application/problem+json``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_BASE = "https://nagara.dev/problems/"


class Problem(Exception):
    """An error for the caller.

    ``keep_changes=True`` asks the unit of work to commit what the service
    flushed before raising: a failed code attempt or a failed password must be
    counted even though the request fails.
    """

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}
        self.keep_changes = keep_changes

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type_slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotAuthenticated(Problem):
    status = 401
    type_slug = "not-authenticated"
    title = "Authentication required"


class Forbidden(Problem):
    status = 403
    type_slug = "forbidden"
    title = "Not allowed"


class NotFound(Problem):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Invalid(Problem):
    """422 with one entry per invalid field: ``{"loc": [...], "msg": ..., "type": ...}``."""

    status = 422
    type_slug = "validation-error"
    title = "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, Any]], *, keep_changes: bool = False) -> None:
        super().__init__(detail, extra={"errors": errors}, keep_changes=keep_changes)


class TooManyRequests(Problem):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int, *, keep_changes: bool = False) -> None:
        super().__init__(
            detail,
            extra={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
            keep_changes=keep_changes,
        )


def http_problem(status: int, detail: str) -> dict[str, Any]:
    """Problem body for an HTTP error raised outside our services (404 route, 405...)."""

    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "type": PROBLEM_BASE + phrase.lower().replace(" ", "-"),
        "title": phrase,
        "status": status,
        "detail": detail,
    }
