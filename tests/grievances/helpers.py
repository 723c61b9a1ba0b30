"""Shared steps for the grievance tests: people of each state, answers to a category, photos."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.grievances.categories import Category
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.runtime import Runtime
from nagara.tenancy.models import LocalBody, Ward
from tests.conftest import make_citizen, make_officer

# A point inside each state (a city centre) and one outside them all (the Arabian Sea).
POINTS = {"kl": (8.5241, 76.9366), "ka": (12.9716, 77.5946), "jk": (34.0837, 74.7973)}
AT_SEA = (10.0, 70.0)


def answers(category: Category) -> dict[str, Any]:
    """A valid answer to every attribute of the category."""
    out: dict[str, Any] = {}
    for attr in category.attributes:
        kind = attr["datatype"]
        keys = [v["key"] for v in attr.get("values", [])]
        out[attr["code"]] = {
            "string": "near the bus stop",
            "text": "it has been like this for a week",
            "number": 3,
            "datetime": "2026-12-01",
            "singlevaluelist": keys[0] if keys else None,
            "multivaluelist": keys[:2],
        }[kind]
    return out


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG whose EXIF names a camera and a GPS position."""
    img = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (8.0, 31.0, 26.0), 3: "E", 4: (76.0, 56.0, 12.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


class StatePeople:
    """For one state: a local body with wards, its level holders (officer, secretary, appellate
    authority), a second body's officer, and two citizens."""

    def __init__(self, session: Session, runtime: Runtime, state: str, tag: str) -> None:
        bodies = list(
            session.scalars(
                select(LocalBody.code)
                .where(LocalBody.state_code == state, LocalBody.code.in_(select(Ward.local_body_code)))
                .order_by(LocalBody.code)
            )
        )
        others = list(session.scalars(select(LocalBody.code).where(LocalBody.state_code == state).order_by(LocalBody.code)))
        self.state = state
        self.body = bodies[0]
        self.other_body = next(b for b in others if b != self.body)
        self.ward = session.scalar(select(Ward.number).where(Ward.local_body_code == self.body).order_by(Ward.number).limit(1))
        self.users: dict[str, User] = {}
        for role in ("officer", "secretary", "appellate_authority", "section_clerk", "counter_clerk"):
            self.users[role] = make_officer(session, f"{tag}.{state}.{role}", role, state, self.body)
        self.users["other_officer"] = make_officer(session, f"{tag}.{state}.other", "officer", state, self.other_body)
        prefix = {"kl": "98470", "ka": "98450", "jk": "94190"}[state]
        self.users["citizen"] = make_citizen(session, runtime, state, f"{prefix}{tag[-1]}0011")
        self.users["citizen2"] = make_citizen(session, runtime, state, f"{prefix}{tag[-1]}0012")

    def principal(self, session: Session, name: str) -> Principal:
        return identity.load_principal(session, session.get(User, self.users[name].id), "bearer")  # type: ignore[arg-type]


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2027, 1, day, hour, tzinfo=UTC)
