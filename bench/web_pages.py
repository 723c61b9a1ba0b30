"""Benchmark: what the home and apply pages cost a cheap phone on a slow connection.

Run: ``.venv/bin/python bench/web_pages.py [--runs 3]``.

It starts ``nagara demo`` (fresh database in a temporary folder, packs and demo accounts
loaded) on a free loopback port, signs a citizen in through the API (the one-time code is
read from the server's console SMS), and loads each page in the Debian chromium with a cold
cache under Chromium's throttling (CDP ``Network.emulateNetworkConditions``: 400 kbit/s
down and up, 400 ms round trip; ``Emulation.setCPUThrottlingRate`` 4x). For each page it
reports, as the median of ``--runs`` loads:

- transfer: bytes over the wire for the page and everything it loads (CDP
  ``encodedDataLength``: compressed bodies plus headers), and for the HTML document alone;
- FCP: the browser's first-contentful-paint time;
- the same page's HTML without compression (``Accept-Encoding: identity``), to show what
  gzip saves.

The reference, measured in the same run: the very same HTML bytes saved as a static file
and served by the same server from ``/static/`` (same CSS and JS), so the difference is
the cost of rendering the page (database, templates) rather than of its size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "nagara" / "static"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SLOW = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
CPU_SLOWDOWN = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(var: Path, port: int) -> tuple[subprocess.Popen[str], Path]:
    log = var / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")},
        "NAGARA_VAR_DIR": str(var),
        "NAGARA_PORT": str(port),
        "NAGARA_COOKIE_SECURE": "false",
        "NAGARA_LOG_LEVEL": "WARNING",
        "NAGARA_PACKS_DIR": str(ROOT / "packs"),
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "nagara"), "demo"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc, log
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the demo server stopped:\n" + log.read_text()) from None
            time.sleep(0.3)
    raise SystemExit("the demo server did not start in time")


def sign_in(base: str, log: Path) -> str:
    """A citizen web session: ask for a code, read it from the console SMS, verify it."""
    mobile = "9000000001"

    def post(path: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        request = urllib.request.Request(
            base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read()), response.headers.get("set-cookie", "")

    sent, _ = post("/api/v1/auth/otp", {"state": "kl", "mobile": mobile})
    deadline = time.monotonic() + 20
    code = None
    while code is None and time.monotonic() < deadline:
        found = re.findall(r"\[sms to \+91" + mobile + r"\] (\d{6}) ", log.read_text())
        code = found[-1] if found else None
        time.sleep(0.2)
    if code is None:
        raise SystemExit("no one-time code appeared in the server log")
    signed, _cookie = post(
        "/api/v1/auth/otp/verify",
        {"state": "kl", "mobile": mobile, "challenge_id": sent["challenge_id"], "code": code, "session": True},
    )
    return str(signed["token"])


def load(browser: Any, url: str, cookie: str | None, port: int, *, identity: bool = False) -> dict[str, float]:
    """One cold load under throttling: bytes over the wire (all, document) and first contentful paint."""
    headers = {"Accept-Encoding": "identity"} if identity else {}
    context = browser.new_context(extra_http_headers=headers, service_workers="block")
    if cookie:
        context.add_cookies([{"name": "nagara_session", "value": cookie, "domain": "127.0.0.1", "path": "/"}])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    sizes: dict[str, float] = {}
    document: dict[str, str] = {}

    def on_response(event: dict[str, Any]) -> None:
        if event.get("type") == "Document":
            document["id"] = event["requestId"]

    def on_finished(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = float(event["encodedDataLength"])

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)  # late requests (the service worker's script is blocked here)
    fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
    result = {"total": sum(sizes.values()), "document": sizes.get(document.get("id", ""), 0.0), "fcp_ms": float(fcp)}
    context.close()
    return result


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="nagara-bench-web-"))
    port = free_port()
    proc, log = start_demo(var, port)
    base = f"http://127.0.0.1:{port}"
    reference_files: list[Path] = []
    try:
        cookie = sign_in(base, log)
        pages = {
            "home (catalogue)": ("/?body=kl.tvm-corp", None),
            "apply (birth registration form)": ("/apply/kl.tvm-corp/birth-registration", cookie),
        }
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            print(
                f"throttled: {SLOW['downloadThroughput'] * 8 / 1000:.0f} kbit/s, {SLOW['latency']} ms RTT, CPU {CPU_SLOWDOWN}x slower"
            )
            print(f"{'page':34} {'transfer':>10} {'html':>8} {'html raw':>9} {'FCP':>8}   reference (same bytes, static file)")
            for name, (path, who) in pages.items():
                rows = [load(browser, base + path, who, port) for _ in range(args.runs)]
                raw = load(browser, base + path, who, port, identity=True)["document"]
                # The reference: this page's HTML as it was served, saved as a static file.
                request = urllib.request.Request(base + path, headers={"Cookie": f"nagara_session={who}"} if who else {})
                with urllib.request.urlopen(request) as response:
                    html = response.read()
                ref_file = STATIC / f"bench-ref-{uuid.uuid4().hex[:8]}.html"
                ref_file.write_bytes(html)
                reference_files.append(ref_file)
                refs = [load(browser, f"{base}/static/{ref_file.name}", None, port) for _ in range(args.runs)]
                print(
                    f"{name:34} {median(rows, 'total') / 1024:8.1f}kB {median(rows, 'document') / 1024:6.1f}kB {raw / 1024:7.1f}kB"
                    f" {median(rows, 'fcp_ms'):6.0f}ms   {median(refs, 'total') / 1024:.1f}kB, FCP {median(refs, 'fcp_ms'):.0f}ms"
                )
            browser.close()
    finally:
        for ref in reference_files:
            ref.unlink(missing_ok=True)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    print(f"median of {args.runs} cold loads each; server log: {log}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
