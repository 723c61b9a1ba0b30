"""Body limits on a real server (uvicorn), 24 requests at once: a declared length over the limit is
refused before any byte of the body is sent, and a chunked body as soon as it passes the limit,
without waiting for the rest. Issue 12, finding 4."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from tests.browser import LiveServer

LIMIT = 1024 * 1024


def _exchange(live_server: LiveServer, *, chunked: bool) -> tuple[int, dict[str, object]]:
    parts = urlsplit(live_server.url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        head = "POST /api/v1/auth/otp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        if chunked:
            sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
            chunk = b"9" * 65536
            for _ in range(LIMIT // len(chunk) + 2):  # just past the limit; the final empty chunk is never sent
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            sock.sendall((head + "Content-Length: 300000000\r\n\r\n").encode())  # and not one byte of it
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    status_line, _, rest = received.partition(b"\r\n")
    body = rest.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in rest.lower().split(b"\r\n\r\n", 1)[0]:
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0", 1)[0]
    return int(status_line.split()[1]), json.loads(body)


def test_parallel_oversized_bodies_are_refused_early(live_server: LiveServer) -> None:
    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(lambda i: _exchange(live_server, chunked=i % 2 == 1), range(24)))
    for status, body in results:
        assert status == 413, body
        assert f"{LIMIT:,} bytes" in str(body["detail"])
        assert body["request_id"]
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200
