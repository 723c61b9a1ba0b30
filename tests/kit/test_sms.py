"""The HTTP SMS provider: what it sends, and that a refusal makes the job retry."""

from __future__ import annotations

import json

import httpx
import pytest

from nagara.kit.sms import HttpSms


def test_http_provider_posts_json_with_bearer_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"status": "queued"})

    sms = HttpSms(
        "https://sms.example.invalid/v1/send",
        "secret-token",
        "NAGARA",
        client=httpx.Client(transport=httpx.MockTransport(provider)),
    )
    sms.send("+919847012345", "123456 is your code", idempotency_key="abc")
    [request] = seen
    assert request.headers["authorization"] == "Bearer secret-token"
    assert request.headers["idempotency-key"] == "abc"
    assert json.loads(request.content) == {"to": "+919847012345", "text": "123456 is your code", "sender": "NAGARA"}


def test_a_provider_error_raises_so_the_job_is_retried() -> None:
    sms = HttpSms(
        "https://sms.example.invalid/v1/send",
        "t",
        "NAGARA",
        client=httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(503))),
    )
    with pytest.raises(httpx.HTTPStatusError):
        sms.send("+919847012345", "x", idempotency_key="k")
