"""A grievance's steps reach the citizen (and the officer it is with) through the outbox, in their language:
filed, escalated, resolved, merged; the pack's templates of every grievance event pass the SMS check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from nagara.grievances import service as grievances
from nagara.grievances.categories import categories
from nagara.grievances.service import Act, Filing, Where
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.notifications.models import Notification
from nagara.notifications.templates import EVENTS, check
from nagara.runtime import Runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.worker.models import Job
from tests.conftest import PACKS
from tests.grievances.helpers import POINTS, StatePeople, answers, at
from tests.notifications.helpers import deliver, quiet_hours

GRIEVANCE_EVENTS = [e for e in EVENTS if e.startswith("grievance_")]


def _mine(runtime: Runtime, user_id: str) -> list[Notification]:
    with runtime.db.unit_of_work() as s:
        rows = list(s.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)))
        s.expunge_all()
        return rows


@pytest.mark.parametrize("pack", [p.name for p in discover(PACKS)])
def test_every_pack_has_each_grievance_event_in_its_languages_within_the_sms_limit(pack: str) -> None:
    read = read_pack(PACKS / pack)
    doc = read.notifications
    languages = {"kl": ["ml", "en", "kn", "hi"], "ka": ["kn", "en", "ml", "hi"], "jk": ["ur", "en", "hi"]}[pack]
    for event in GRIEVANCE_EVENTS:
        assert sorted(doc["events"][event]["text"]) == sorted(languages), event
        assert sorted(doc["events"][event]["subject"]) == sorted(languages), event
    assert check(doc, languages) == []


def test_a_grievance_tells_its_citizen_and_its_officers_through_the_outbox(runtime: Runtime) -> None:
    quiet_hours(runtime, "kl", now_inside=False)
    with runtime.db.unit_of_work() as s:
        people = StatePeople(s, runtime, "kl", "n1")
        citizen_user = s.get(User, people.users["citizen"].id)
        assert citizen_user is not None
        citizen_user.language = "ml"
        s.flush()
        category = next(c for c in categories(s, "kl") if c.code == "streetlight")
        where = Where(ward=people.ward, lat=POINTS["kl"][0], lon=POINTS["kl"][1], address="Near the temple")
        g = grievances.file(
            s,
            people.principal(s, "citizen"),
            Filing(people.body, category.code, "The light is out.", where, answers(category)),
            now=at(4),
            channel="portal",
        )
        dup = grievances.file(
            s,
            people.principal(s, "citizen2"),
            Filing(people.body, category.code, "Dark road.", where, answers(category)),
            now=at(4),
            channel="portal",
        )
        number, first_due = g.number, g.state_due_at
        assert first_due is not None
        l1 = people.principal(s, "officer")
        grievances.act(s, l1, dup.number, Act("merge", version=dup.version, into=number), now=at(4))
        jobs = s.scalar(select(func.count()).select_from(Job).where(Job.name == "notifications.grievance"))
        assert jobs == 3  # two filings and a merger: in the grievances' own transaction
    deliver(runtime)

    citizen, citizen2, officer = (people.users[k].id for k in ("citizen", "citizen2", "officer"))
    filed = [n for n in _mine(runtime, citizen) if n.event == "grievance_filed"]
    assert {(n.channel, n.language) for n in filed} == {("portal", "ml"), ("sms", "ml")}
    assert filed[0].body.startswith(f"പരാതി {number} രജിസ്റ്റർ ചെയ്തു.")
    assert f"/my/grievances/{number}" in filed[0].body
    [merged] = [n for n in _mine(runtime, citizen2) if n.event == "grievance_merged" and n.channel == "sms"]
    assert merged.body.startswith(f"Grievance {dup.number} reports the same problem as {number}")
    assert merged.status == "sending"  # handed to the SMS provider (the console here)
    assigned = [n for n in _mine(runtime, officer) if n.event == "grievance_assigned"]
    assert {(n.channel, n.link) for n in assigned} == {
        ("portal", f"{runtime.settings.base_url}/officer/grievances/{number}"),
        ("portal", f"{runtime.settings.base_url}/officer/grievances/{dup.number}"),
    }

    # Level 1's time passes: the sweep moves it up; the citizen hears of it, the new holder gets it.
    with runtime.db.unit_of_work() as s:
        assert grievances.sweep(s, first_due + timedelta(minutes=1))["escalated"] >= 1
        g = grievances.get(s, number)
        holder = g.assigned_to_id
        assert g.level == 2 and holder is not None and holder != officer
    deliver(runtime)
    [escalated] = [n for n in _mine(runtime, citizen) if n.event == "grievance_escalated" and n.channel == "portal"]
    assert escalated.variables["level"] == "2"
    assert escalated.subject == f"പരാതി {number} തലം 2-ലേക്ക് ഉയർത്തി"
    assert [n.event for n in _mine(runtime, holder)] == ["grievance_assigned"]

    with runtime.db.unit_of_work() as s:
        l2 = identity.load_principal(s, s.get(User, holder), "bearer")  # type: ignore[arg-type]
        g = grievances.get(s, number)
        grievances.act(s, l2, number, Act("resolve", version=g.version, comment="Lamp replaced."), now=at(6))
    deliver(runtime)
    resolved = [n for n in _mine(runtime, citizen) if n.event == "grievance_resolved"]
    assert {n.channel for n in resolved} == {"portal", "sms"}
    deliver(runtime)  # nothing twice
    assert len([n for n in _mine(runtime, citizen) if n.event == "grievance_resolved"]) == 2
