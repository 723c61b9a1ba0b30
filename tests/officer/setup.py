"""Data for the workbench's browser tests, made through the same service functions the API uses."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.runtime import Runtime
from tests.conftest import PASSWORD, TOTP_SECRET


def _pdf() -> bytes:
    """A one-page PDF that says something, so that the page's viewer has text to show."""
    stream = b"BT /F1 28 Tf 72 720 Td (Parent's identity card) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


PDF = _pdf()


def png(width: int = 240, height: int = 140) -> bytes:
    """A real PNG (a striped card), so the page can show it."""
    rows = b""
    for y in range(height):
        shade = (40, 90, 160) if (y // 20) % 2 else (230, 236, 245)
        rows += b"\0" + bytes(shade) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def officer(runtime: Runtime, username: str, state: str, body: str | None, roles: list[str]) -> None:
    with runtime.db.unit_of_work() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            return
        created = identity.create_officer(
            s,
            None,
            state_code=state,
            username=username,
            name=username.title(),
            password=PASSWORD,
            role=roles[0],
            place=identity.Place(state, body),
            totp_secret=TOTP_SECRET,
        )
        for role in roles[1:]:
            identity.grant_role(s, None, created.user, role, identity.Place(state, body))


def citizen(runtime: Runtime, state: str, mobile: str) -> User:
    with runtime.db.unit_of_work() as s:
        number = identity.normalise_mobile(mobile)
        index = identity.mobile_index(runtime, state, number)
        user = s.scalar(select(User).where(User.mobile_index == index))
        if user is None:
            user = User(
                kind="citizen",
                state_code=state,
                mobile_index=index,
                mobile_sealed=runtime.cipher.encrypt(number, context="mobile"),
            )
            s.add(user)
            s.flush()
            s.add(RoleAssignment(user_id=user.id, state_code=state, role_code="citizen"))
        s.expunge(user)
        return user


def submitted(
    runtime: Runtime,
    *,
    mobile: str,
    state: str,
    body: str,
    service: str,
    data: dict[str, Any],
    documents: dict[str, tuple[str, bytes]],
    assigned_to: str | None = None,
) -> str:
    """A citizen's application, with its documents, submitted; returns its number.

    ``assigned_to`` names the officer who holds it: work goes to the least-loaded officer of
    the role, and other tests on the same server may have added officers to the same body.
    """
    user = citizen(runtime, state, mobile)
    with runtime.db.unit_of_work() as s:
        principal = identity.load_principal(s, s.get(User, user.id), "bearer")  # type: ignore[arg-type]
        app = applications.create(s, principal, tenant=body, service_code=service, data=data, submit=False)
        for doc_type, (filename, content) in documents.items():
            applications.upload(s, principal, app.number, doc_type=doc_type, filename=filename, declared=None, content=content)
        applications.act(s, principal, app.number, action="submit", comment=None, version=app.version)
        if assigned_to is not None:
            app.assigned_to_id = s.scalar(select(User.id).where(User.username == assigned_to))
        return app.number


def days_ago(n: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=n)).isoformat()


def kerala_birth() -> dict[str, Any]:
    return {
        "child_name": "Anna",
        "sex": "female",
        "date_of_birth": days_ago(3),
        "place_of_birth": "hospital",
        "hospital_name": "SAT Hospital",
        "mother_name": "Mary",
        "informant_relation": "mother",
    }


def karnataka_birth() -> dict[str, Any]:
    return {
        "child_name": "Kavya",
        "sex": "female",
        "date_of_birth": days_ago(5),
        "place_of_birth": "Vani Vilas Hospital",
        "mother_name": "Lakshmi",
        "applicant_relation": "parent",
        "additional_copies": 1,
    }
