"""Demonstration accounts for ``make demo``: officers of two local bodies per state, a state
administrator, an auditor, an operator and a citizen. Never run in production."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit.settings import Settings
from nagara.ledger.keys import states_origins
from nagara.ledger.models import SignedCheckpoint
from nagara.tenancy.models import LocalBody

DEMO_PASSWORD = "nagara-demo-2026"
# A fixed authenticator secret so demo users can sign in; `nagara users totp NAME` prints the code.
DEMO_TOTP_SECRET = "NAGARADEMOTOTPSECRETBASE32AAAAAA"
DEMO_CITIZEN_MOBILE = "9000000001"
# The log of a demo node that holds several states' packs: none of the states' own logs, so no
# state's records are signed in another state's name (`nagara ledger demo-pair` gives each its own).
DEMO_LEDGER_ORIGIN = "ledger.demo.nagara.localhost/v1"


def demo_ledger_origin(session: Session, settings: Settings) -> str | None:
    """The origin the demo must set for its log, or None when the settings, the stored log or a single pack name it."""
    if settings.ledger_origin or session.scalar(select(SignedCheckpoint.origin).limit(1)) is not None:
        return None
    return DEMO_LEDGER_ORIGIN if len(set(states_origins(session).values())) > 1 else None


@dataclass(frozen=True)
class DemoOfficer:
    username: str
    name: str
    role: str
    state: str
    local_body: str | None


# Jammu and Kashmir (packs/jk) is loaded by the demo like every pack but not given officers or sample
# applications: the sample's names and words (sample.NAMES, WORDS) are Kerala's and Karnataka's, and
# the demo's promise that every officer's inbox has work holds for those two states' workflows only.
DEMO_BODIES = {"kl": ("tvm-corp", "kochi-corp"), "ka": ("bengaluru-central-cc", "mysuru-cc")}
DEMO_ROLES = ("counter_clerk", "section_clerk", "officer", "secretary", "appellate_authority", "operator")


def demo_officers(session: Session) -> list[DemoOfficer]:
    """A full office in two local bodies per state, plus each state's administrator and auditor."""
    people: list[DemoOfficer] = []
    for state, bodies in DEMO_BODIES.items():
        codes = [f"{state}.{b}" for b in bodies]
        present = set(session.scalars(select(LocalBody.code).where(LocalBody.code.in_(codes))))
        if not present:
            continue  # that state's pack is not loaded
        people.append(DemoOfficer(f"{state}.admin", f"{state.upper()} State Administrator", "state_admin", state, None))
        people.append(DemoOfficer(f"{state}.auditor", f"{state.upper()} Auditor", "auditor", state, None))
        for code in codes:
            if code not in present:
                continue
            short = code.split(".", 1)[1]
            for role in DEMO_ROLES:
                label = f"{role.replace('_', ' ').title()}, {short}"
                people.append(DemoOfficer(f"{short}.{role.replace('_', '-')}", label, role, state, code))
    return people


def load_demo_users(session: Session) -> list[DemoOfficer]:
    """Create the demo officers that do not exist yet. Idempotent."""
    created: list[DemoOfficer] = []
    for person in demo_officers(session):
        if session.scalar(select(User.id).where(User.username == person.username)):
            continue
        identity.create_officer(
            session,
            None,
            state_code=person.state,
            username=person.username,
            name=person.name,
            password=DEMO_PASSWORD,
            role=person.role,
            place=identity.Place(person.state, person.local_body),
            totp_secret=DEMO_TOTP_SECRET,
        )
        created.append(person)
    return created


def demo_accounts_table(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(User.username, RoleAssignment.role_code, RoleAssignment.local_body_code, RoleAssignment.state_code)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.kind == "officer")
        .order_by(User.username)
    ).all()
    return [(r.username or "", r.role_code, r.local_body_code or r.state_code) for r in rows]
