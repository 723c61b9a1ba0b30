"""Browser-test fixtures (a pytest plugin loaded by tests/conftest.py).

``live_server``: a real uvicorn server on a free loopback port, in a thread of the test
process, with its own migrated database (TEST_DB picks the engine), every shipped pack
loaded and the embedded job worker running, so one-time codes are "sent" to the
recording console SMS (``live_server.sms_code(mobile)``).

``browser`` / ``page``: Playwright driving the Debian chromium (/usr/bin/chromium), headless.
``axe_check(page)``: runs axe-core (bundled by the axe-playwright-python package; it needs the
page's JavaScript, so a page opened with java_script_enabled=False is checked in a second tab) and fails
on any serious or critical violation. ``shot(page, name)``: a full-page screenshot in the
test's screenshot folder (``WEB_SCREENSHOTS`` or a tmp dir).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from nagara.app import create_app
from nagara.identity.models import User
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.service import load_pack
from tests.conftest import FAST_ARGON2

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[1]
AXE_SCRIPT = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    sms: ConsoleSms
    server_app: Any = None
    officers: dict[str, User] = field(default_factory=dict)

    def sms_code(self, mobile: str, timeout: float = 10.0) -> str:
        """The newest one-time code sent to this number (the worker sends it within a poll)."""
        number = "+91" + re.sub(r"\D", "", mobile)[-10:]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for to, text in reversed(self.sms.sent):
                if to == number:
                    match = re.match(r"(\d{4,8}) ", text)
                    if match:
                        return match.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code was sent to {number} within {timeout}s")


@pytest.fixture(scope="session")
def live_server(db_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:

    url = db_factory.new_url()
    var = tmp_path_factory.mktemp("live-var")
    port = free_port()
    settings = Settings(
        env="test",
        database_url=url,
        var_dir=var,
        packs_dir=ROOT / "packs",
        worker_embedded=True,
        worker_poll_seconds=0.1,
        log_json=False,
        log_level="WARNING",
        cookie_secure=False,  # plain http on the loopback address
        host="127.0.0.1",
        port=port,
        otp_per_address_per_hour=1000,
    )
    sms = ConsoleSms()
    runtime = build_runtime(settings, sms=sms, hasher=FAST_ARGON2)
    with runtime.db.unit_of_work() as session:
        for directory in discover(ROOT / "packs"):
            load_pack(session, read_pack(directory))
    app = create_app(runtime=runtime, start_worker=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", runtime=runtime, sms=sms, server_app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)", pytrace=False)

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """``new_page(lang="ml")``: a fresh browser context (own cookies) whose browser asks for that language."""
    contexts: list[Any] = []

    def make(lang: str = "en", **options: Any) -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale=lang, extra_http_headers={"Accept-Language": lang}, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page("en")


def _axe_script() -> str:
    global AXE_SCRIPT  # noqa: PLW0603 - read once per run
    if AXE_SCRIPT is None:
        AXE_SCRIPT = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
    return AXE_SCRIPT


def axe_check(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail listing every serious or critical violation."""
    page.wait_for_load_state("load")  # a page still loading may yet replace its document under axe
    page.evaluate(_axe_script())
    results = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},"
        " resultTypes: ['violations']})"
    )
    bad = [v for v in results["violations"] if v.get("impact") in impacts]
    if bad:
        lines = [
            f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
            for v in bad
        ]
        pytest.fail(f"axe found {len(bad)} serious/critical violation(s) on {page.url}:\n" + "\n".join(lines), pytrace=False)
    return list(results["violations"])


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("WEB_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(screenshot_dir: Path) -> Any:
    def take(page: Any, name: str) -> Path:
        target = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return take
