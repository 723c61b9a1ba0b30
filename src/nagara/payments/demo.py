"""Demonstration property register for ``make demo``: a few assessed buildings in each demo body,
one of them owned by the demo citizen, with the current half-year's demands raised. Idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.payments import demands
from nagara.payments.models import Property
from nagara.runtime import runtime_of
from nagara.tenancy.models import LocalBody

# (assessment number, use, zone, plinth area in m2), per local body
REGISTER = {
    "kl.tvm-corp": [
        ("TVM/W12/0457", "residential", 2, 142),
        ("TVM/W12/0458", "residential", 1, 96),
        ("TVM/W03/0101", "commercial", 1, 48),
    ],
    "kl.kochi-corp": [("KCH/W07/0219", "residential", 1, 180), ("KCH/W21/0033", "commercial", 2, 75)],
    "ka.bengaluru-central-cc": [("BLC/W45/1120", "residential", 1, 111), ("BLC/W45/1121", "commercial", 1, 60)],
    "ka.mysuru-cc": [("MYS/W09/0071", "residential", 2, 130)],
}


def _citizen(session: Session, state_code: str, mobile: str) -> str:
    """The demo citizen of the state (as signing in with the mobile number creates them)."""
    runtime = runtime_of(session)
    number = identity.normalise_mobile(mobile)
    index = identity.mobile_index(runtime, state_code, number)
    found = session.scalar(select(User.id).where(User.mobile_index == index))
    if found is not None:
        return str(found)
    user = User(
        kind="citizen", state_code=state_code, mobile_index=index, mobile_sealed=runtime.cipher.encrypt(number, context="mobile")
    )
    session.add(user)
    session.flush()
    session.add(RoleAssignment(user_id=user.id, state_code=state_code, role_code="citizen"))
    session.flush()
    return user.id


def load_demo_properties(session: Session, citizen_mobile: str) -> int:
    """Register the demo buildings that are missing and raise the current half-year's demands."""
    added = 0
    for body_code, buildings in REGISTER.items():
        body = session.get(LocalBody, body_code)
        if body is None:
            continue  # that state's pack is not loaded
        owner = _citizen(session, body.state_code, citizen_mobile)
        for i, (number, usage, zone, area) in enumerate(buildings):
            exists = session.scalar(
                select(Property.id).where(Property.local_body_code == body_code, Property.assessment_number == number)
            )
            if exists:
                continue
            demands.register_property(
                session,
                local_body_code=body_code,
                assessment_number=number,
                usage=usage,
                zone=zone,
                plinth_area_sqm=area,
                owner_id=owner if i == 0 else None,
            )
            added += 1
        demands.raise_property_demands(session, body_code)
    return added
