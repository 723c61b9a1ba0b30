"""The edge: what every request must be before any route sees it.

One pure ASGI middleware (``InputGuard``) refuses, with problem+json naming the place:

* a body over its route's limit, from ``Content-Length`` before reading and by counting the
  bytes of a chunked body as they arrive: 413;
* a NUL character or an unpaired surrogate in the path, the query string, a header, or any
  string (key or value) of a JSON, url-encoded or multipart body: 422 (PostgreSQL cannot store
  NUL in text, and no encoder can write a lone surrogate);
* in a JSON body, a number that is not finite (``NaN``, ``Infinity``, ``1e400``) or an integer
  outside 64 bits: 422.

The body is read once, up to its limit, and handed on unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nagara.kit import context
from nagara.kit.errors import PROBLEM_BASE

PROBLEM_JSON = "application/problem+json"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
BAD_MESSAGE = "text may not hold NUL (U+0000), unpaired surrogates (U+D800-U+DFFF) or bytes that are not UTF-8"
# Bytes that may hide a NUL or a surrogate in a body; a body without any of them is not walked.
_SUSPECT_JSON = (b"\x00", b"\\u")
_SUSPECT_FORM = (b"\x00", b"%00", b"%ed", b"%ED")
_UNREAD = frozenset({"GET", "HEAD"})  # no route reads their bodies: only the declared length is checked


def bad_text(value: str) -> bool:
    return BAD_CHARS.search(value) is not None


class _Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors


def _invalid(loc: list[str | int], msg: str, kind: str) -> _Refused:
    return _Refused(422, "Invalid input", f"{'.'.join(map(str, loc))}: {msg}", [{"loc": loc, "msg": msg, "type": kind}])


class _Number:
    """A JSON number the app cannot hold: kept as its text until the walk finds where it was."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _Number:
    if len(text) > 20:
        return _Number(text)
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else _Number(text)


def _parse_float(text: str) -> float | _Number:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else _Number(text)


def _walk(value: Any, loc: list[str | int]) -> None:
    if isinstance(value, str):
        if bad_text(value):
            raise _invalid(loc, BAD_MESSAGE, "string_characters")
    elif isinstance(value, _Number):
        raise _invalid(
            loc,
            f"{value.text[:40]} is not allowed: numbers must be finite and integers between {INT64_MIN} and {INT64_MAX}",
            "number_range",
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            if bad_text(key):
                raise _invalid([*loc, key.encode("unicode_escape").decode()], BAD_MESSAGE, "string_characters")
            _walk(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*loc, index])


def check_json(body: bytes) -> None:
    """Refuse what the app could not store; leave malformed JSON to the route's own 422."""
    if not body:
        return
    seen: list[bool] = []

    def constant(text: str) -> _Number:
        seen.append(True)
        return _Number(text)

    def number(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        def hook(text: str) -> Any:
            value = parse(text)
            if isinstance(value, _Number):
                seen.append(True)
            return value

        return hook

    try:
        parsed = json.loads(body, parse_constant=constant, parse_int=number(_parse_int), parse_float=number(_parse_float))
    except ValueError:
        return  # not JSON: the route answers 422 with the parser's position
    if seen or any(s in body for s in _SUSPECT_JSON):
        _walk(parsed, ["body"])


def check_pairs(pairs: Iterable[tuple[str, str]], where: str) -> None:
    for key, value in pairs:
        if bad_text(key):
            raise _invalid([where, key.encode("unicode_escape").decode()], BAD_MESSAGE, "string_characters")
        if bad_text(value):
            raise _invalid([where, key], BAD_MESSAGE, "string_characters")


def check_query(raw: bytes) -> None:
    if not raw or not any(s in raw for s in _SUSPECT_FORM):
        return
    if b"\x00" in unquote_to_bytes(raw):
        check_pairs(parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"), "query")
        raise _invalid(["query"], BAD_MESSAGE, "string_characters")


async def check_multipart(scope: Scope, body: bytes) -> None:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, replay)
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - a malformed form is the route's to refuse
        return
    try:
        check_pairs(((k, v) for k, v in form.multi_items() if isinstance(v, str)), "body")
        names = ((k, v.filename or "") for k, v in form.multi_items() if isinstance(v, UploadFile))
        check_pairs(names, "body")
    finally:
        await form.close()


class Limits:
    """How many bytes a request body may have: ``upload`` on the routes that take files, else ``default``."""

    def __init__(self, default: int, upload: int, upload_routes: Iterable[tuple[str, str]]) -> None:
        self.default = default
        self.upload = upload
        self._uploads = [
            (method, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")) for method, path in upload_routes
        ]

    def for_request(self, method: str, path: str) -> int:
        if any(method == m and pattern.match(path) for m, pattern in self._uploads):
            return self.upload
        return self.default


class InputGuard:
    """Refuses oversized bodies and text no column can store, before the app reads anything."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._check(scope, receive)
        except _Refused as refused:
            await self._refuse(scope, receive, send, refused)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        path: str = scope["path"]
        if bad_text(path):
            raise _invalid(["path"], BAD_MESSAGE, "string_characters")
        check_query(scope.get("query_string", b""))
        for name, value in scope["headers"]:
            if b"\x00" in value:
                raise _invalid(["header", name.decode("latin-1")], "NUL characters (U+0000) are not allowed", "string_characters")
        headers = Headers(scope=scope)
        limit = self.limits.for_request(scope["method"], path)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _invalid(["header", "content-length"], "must be a number of bytes", "value_error")
            if int(declared) > limit:
                raise self._too_large(limit, int(declared))
        if scope["method"] in _UNREAD:
            return receive
        body = await self._read(receive, limit)
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media in ("", "application/json") or (media.startswith("application/") and media.endswith("+json")):
            check_json(body)
        elif media == "application/x-www-form-urlencoded":
            if any(s in body for s in _SUSPECT_FORM):
                decoded = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
                check_pairs(((k, v) for k, v in decoded), "body")
        elif media == "multipart/form-data":
            await check_multipart(scope, body)
        return _replay(body, receive)

    @staticmethod
    def _too_large(limit: int, size: int | None) -> _Refused:
        detail = f"the request body is at most {limit:,} bytes here"
        if size is not None:
            detail += f"; this one is {size:,}"
        return _Refused(413, "Request too large", detail)

    async def _read(self, receive: Receive, limit: int) -> bytes:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            if len(body) > limit:
                raise self._too_large(limit, None)
            if not message.get("more_body", False):
                break
        return bytes(body)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, refused: _Refused) -> None:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + ("request-too-large" if refused.status == 413 else "validation-error"),
            "title": refused.title,
            "status": refused.status,
            "detail": refused.detail,
            "instance": scope["path"].encode("unicode_escape").decode(),
        }
        if refused.errors is not None:
            body["errors"] = refused.errors
        request_id = context.current().request_id
        if request_id:
            body["request_id"] = request_id
        headers = {"Connection": "close"} if refused.status == 413 else None
        await JSONResponse(body, status_code=refused.status, media_type=PROBLEM_JSON, headers=headers)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
