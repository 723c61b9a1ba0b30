"""Helpers of the browser tests: files to upload, officers, signing in through the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import User
from tests.browser import LiveServer, axe_check
from tests.conftest import PASSWORD, TOTP_SECRET


def tiny_pdf(text: str = "Nagara test document") -> bytes:
    """A valid one-page PDF (what a scanned document is, to the upload check)."""
    stream = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def officer(live: LiveServer, username: str, role: str, local_body: str = "kl.tvm-corp") -> User:
    with live.runtime.db.unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = identity.create_officer(
                session,
                None,
                state_code=local_body.split(".", 1)[0],
                username=username,
                name=username.title(),
                password=PASSWORD,
                role=role,
                place=identity.Place(local_body.split(".", 1)[0], local_body),
                totp_secret=TOTP_SECRET,
            ).user
        session.expunge(user)
        return user


def officer_acts(live: LiveServer, username: str, number: str, action: str, comment: str | None = None) -> str:
    """An officer takes a workflow action through the service functions (the workbench has its own tests)."""
    user = officer(live, username, "")
    with live.runtime.db.unit_of_work() as session:
        me = session.get(User, user.id)
        assert me is not None
        principal = identity.load_principal(session, me, "bearer")
        app = applications.get(session, principal, number)
        applications.act(session, principal, number, action=action, comment=comment, version=app.version)
        return app.state


def sign_in_citizen(
    page: Any,
    live: LiveServer,
    mobile: str,
    *,
    send: str,
    code_label: str,
    sign_in: str,
    check: Any = axe_check,
    state: str | None = None,
) -> None:
    """Through the pages: mobile number, the SMS code, signed in. Labels are given in the page's language.

    ``check`` is the accessibility check of each page (a page without JavaScript passes its own);
    ``state`` is chosen on the form (else the page's own choice: the state of the body last visited).
    """
    if state is not None:
        page.locator("#f-state").select_option(state)
    page.locator("#f-mobile").fill(mobile)
    check(page)
    page.get_by_role("button", name=send).click()
    page.get_by_label(code_label).fill(live.sms_code(mobile))
    check(page)
    page.get_by_role("button", name=sign_in).click()
