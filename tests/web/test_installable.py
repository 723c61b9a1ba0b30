"""The portal installs (manifest, service worker) and shows tracked applications offline."""

from __future__ import annotations

import json

from tests.browser import axe_check
from tests.web.helpers import sign_in_citizen, tiny_pdf


def test_manifest_and_service_worker_are_served_same_origin(page, live_server):
    response = page.request.get("/manifest.webmanifest")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.body())
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/")
        assert page.request.get(icon["src"]).status == 200
    sw = page.request.get("/sw.js")
    assert sw.status == 200
    assert sw.headers["service-worker-allowed"] == "/"
    assert "http" not in sw.text().replace("self.location.origin", "")  # nothing from another origin


def test_tracked_applications_are_readable_offline(new_page, live_server, shot, tmp_path):
    page = new_page("en")
    page.goto("/sign-in?next=/apply/kl.tvm-corp/residence-certificate")
    sign_in_citizen(page, live_server, "9847100003", send="Send code", code_label="Code from the SMS", sign_in="Sign in")
    page.wait_for_url("**/apply/kl.tvm-corp/residence-certificate")
    page.get_by_label("Name of the resident").fill("Sara Thomas")
    page.get_by_label("Building number").fill("TC 1/1")
    page.get_by_label("Ward number").fill("3")
    page.get_by_label("Living there since").fill("2020-01-01")
    page.get_by_label("Owner", exact=True).check()
    page.get_by_label("Purpose of the certificate").fill("Bank account")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/documents")
    number = page.url.split("/applications/")[1].split("/")[0]
    upload = tmp_path / "doc.pdf"
    upload.write_bytes(tiny_pdf())
    for label in ("File for: Identity document", "File for: Ration card or the ward member's certificate"):
        page.get_by_label(label).set_input_files(str(upload))
        with page.expect_navigation():
            page.get_by_label(label).locator("xpath=ancestor::form").get_by_role("button", name="Upload").click()
    page.goto(f"/applications/{number}/review")
    page.get_by_role("button", name="Submit the application").click()
    page.wait_for_url("**?submitted=1")

    # Online: the list page registers the worker, which keeps the list and each application.
    page.goto("/my/applications")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker, which asks for the applications to be kept
    page.wait_for_function(
        "caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k).then(c => c.keys())))).then(all => "
        f"all.flat().some(r => r.url.endsWith('/applications/{number}')))",
        timeout=15_000,
    )

    page.context.set_offline(True)
    try:
        page.goto("/my/applications")
        assert number in page.locator("main").inner_text()
        assert page.locator("#offline-banner").is_visible()
        page.goto(f"/applications/{number}")
        assert "Scrutiny" in page.locator("main").inner_text()
        assert page.locator("#offline-banner").is_visible()
        axe_check(page)
        shot(page, "en-09-offline-track")
        page.goto("/services/kl.tvm-corp/building-permit")  # never visited: the offline page
        assert page.get_by_role("heading", name="You are offline").is_visible()
    finally:
        page.context.set_offline(False)
