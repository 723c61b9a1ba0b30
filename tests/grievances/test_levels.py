"""Every shipped category, carried by the workflow engine: filed, escalated L1 -> L2 -> L3 as each
level's time passes, resolved, rated, appealed on a poor rating, reopened, transferred and merged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from nagara.grievances import events
from nagara.grievances import service as grievances
from nagara.grievances.categories import categories
from nagara.grievances.models import ASSIGNED, CLOSED, IN_PROGRESS, MERGED, RESOLVED, Grievance, GrievanceStep
from nagara.grievances.photos import check_photo
from nagara.grievances.service import Act, Filing, Where
from nagara.ledger.models import PendingEntry
from nagara.runtime import Runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.worker.events import subscribe, unsubscribe
from tests.conftest import PACKS
from tests.grievances.helpers import POINTS, StatePeople, answers, at, jpeg_with_gps

SHIPPED = [(p.name, c["code"]) for p in discover(PACKS) for c in read_pack(p).extras["grievances.yaml"]["categories"]]


def test_every_state_ships_its_categories() -> None:
    per_state = {s: [c for st, c in SHIPPED if st == s] for s in ("kl", "ka", "jk")}
    assert len(per_state["kl"]) >= 12 and len(per_state["ka"]) >= 12 and len(per_state["jk"]) >= 7
    wanted = {"waste-not-collected", "streetlight", "blocked-drain", "road-pothole", "water-supply", "stray-dogs"}
    wanted |= {"mosquito-breeding", "illegal-construction", "encroachment", "public-toilet", "staff-behaviour", "service-delay"}
    assert wanted <= set(per_state["kl"]) and wanted <= set(per_state["ka"])


@pytest.mark.parametrize(("state", "code"), SHIPPED)
def test_a_grievance_of_every_category_climbs_is_resolved_rated_appealed_reopened_transferred_merged(
    runtime: Runtime, state: str, code: str
) -> None:
    seen: list[str] = []

    def record(session: object, event: events.GrievanceEvent) -> None:
        seen.append(type(event).__name__)

    subscribe(events.GrievanceEvent, record)
    try:
        _journey(runtime, state, code, seen)
    finally:
        unsubscribe(record)


def _journey(runtime: Runtime, state: str, code: str, seen: list[str]) -> None:
    with runtime.db.unit_of_work() as s:
        people = StatePeople(s, runtime, state, "t1")
        category = next(c for c in categories(s, state) if c.code == code)
        citizen = people.principal(s, "citizen")
        where = Where(ward=people.ward, lat=POINTS[state][0], lon=POINTS[state][1], address="Near the temple")
        g = grievances.file(
            s,
            citizen,
            Filing(people.body, code, "It has been like this for days.", where, answers(category)),
            now=at(4),
            channel="portal",
        )
        number, first_due = g.number, g.state_due_at
        assert (g.state, g.level, g.assigned_role) == (ASSIGNED, 1, category.level(1)["role"])
        assert g.assigned_to_id == people.users["officer"].id and g.public == category.public
        assert first_due is not None

    # L1's time passes: the sweep moves it to L2, then L3, then marks it overdue at the last level.
    due = first_due
    for level in (2, 3):
        with runtime.db.unit_of_work() as s:
            assert grievances.sweep(s, due - timedelta(minutes=1))["escalated"] == 0  # not before its time
            counts = grievances.sweep(s, due + timedelta(minutes=1))
            assert counts["escalated"] >= 1
            g = grievances.get(s, number)
            assert (g.level, g.assigned_role, g.state) == (level, category.level(level)["role"], ASSIGNED)
            assert g.state_due_at is not None and g.state_due_at > due
            due = g.state_due_at
    with runtime.db.unit_of_work() as s:
        grievances.sweep(s, due + timedelta(minutes=1))
        g = grievances.get(s, number)
        assert (g.level, g.state_escalated, g.breach_count) == (3, True, 3)
        l3 = people.principal(s, "appellate_authority")
        l1 = people.principal(s, "officer")
        with pytest.raises(Exception, match="taken by the holder"):
            grievances.act(s, l1, number, Act("start", version=g.version), now=due + timedelta(hours=1))

    now = due + timedelta(hours=2)
    with runtime.db.unit_of_work() as s:
        g = grievances.act(s, l3, number, Act("start", version=g.version), now=now)
        assert g.state == IN_PROGRESS
        photo = check_photo(jpeg_with_gps()) if category.resolution_photo else None
        if category.resolution_photo:
            with pytest.raises(Exception, match="needs a photo"):
                grievances.act(s, l3, number, Act("resolve", version=g.version, comment="done"), now=now)
        g = grievances.act(s, l3, number, Act("resolve", version=g.version, comment="Cleared on site.", photo=photo), now=now)
        assert (g.state, g.is_open, g.resolution_note) == (RESOLVED, False, "Cleared on site.")

    # A poor rating opens an appeal one level up (here L3 is the last: it stays there, appealed).
    with runtime.db.unit_of_work() as s:
        g = grievances.act(s, citizen, number, Act("rate", version=g.version, rating=1, comment="Not done at all"), now=now)
        assert (g.state, g.appeal_level, g.is_open, g.level, g.rating) == (ASSIGNED, 1, True, 3, 1)
        g = grievances.act(s, l3, number, Act("resolve", version=g.version, comment="Done again.", photo=photo), now=now)
        g = grievances.act(s, citizen, number, Act("rate", version=g.version, rating=5, comment="Thank you"), now=now)
        assert (g.state, g.outcome, g.rating) == (CLOSED, "closed", 5)

    # Reopened within the window: back at work, one level up from where it was resolved.
    with runtime.db.unit_of_work() as s:
        g2 = grievances.file(
            s, citizen, Filing(people.body, code, "Again the same problem.", where, answers(category)), now=now, channel="portal"
        )
        g2 = grievances.act(s, l1, g2.number, Act("resolve", version=g2.version, comment="Fixed.", photo=photo), now=now)
        g2 = grievances.act(
            s, citizen, g2.number, Act("reopen", version=g2.version, comment="Still broken"), now=now + timedelta(days=2)
        )
        assert (g2.state, g2.level, g2.assigned_role, g2.reopen_count) == (ASSIGNED, 2, category.level(2)["role"], 1)
        late = now + timedelta(days=40)
        g2 = grievances.act(
            s,
            people.principal(s, "secretary"),
            g2.number,
            Act("resolve", version=g2.version, comment="Fixed.", photo=photo),
            now=late,
        )
        assert "reopen" not in grievances.allowed_actions(citizen, g2, late + timedelta(days=16))
        assert grievances.sweep(s, late + timedelta(days=8))["closed"] >= 1
        assert grievances.get(s, g2.number).state == CLOSED

    # Transfer to another local body (with a reason), then merge a duplicate into it.
    with runtime.db.unit_of_work() as s:
        g3 = grievances.file(
            s, citizen, Filing(people.body, code, "Filed at the wrong body.", where, answers(category)), now=now, channel="portal"
        )
        with pytest.raises(Exception, match="needs a comment"):
            grievances.act(s, l1, g3.number, Act("transfer", version=g3.version, to_local_body=people.other_body), now=now)
        g3 = grievances.act(
            s, l1, g3.number, Act("transfer", version=g3.version, to_local_body=people.other_body, comment="Their road"), now=now
        )
        assert (g3.local_body_code, g3.level, g3.state, g3.ward_code) == (people.other_body, 1, ASSIGNED, None)
        assert g3.assigned_to_id == people.users["other_officer"].id
        with pytest.raises(Exception, match="no grievance"):  # the first body's officer has lost it
            grievances.act(s, l1, g3.number, Act("start", version=g3.version), now=now)
        other = people.principal(s, "other_officer")
        dup = grievances.file(
            s, people.principal(s, "citizen2"), Filing(people.other_body, code, "Same thing.", Where(address="Main road"), answers(category)),
            now=now, channel="portal",
        )  # fmt: skip
        dup = grievances.act(s, other, dup.number, Act("merge", version=dup.version, into=g3.number), now=now)
        assert (dup.state, dup.outcome, dup.merged_into_id) == (CLOSED, MERGED, g3.id)

        steps = list(
            s.scalars(select(GrievanceStep.action).where(GrievanceStep.grievance_id == g3.id).order_by(GrievanceStep.seq))
        )
        assert steps == ["file", "assign", "transfer"]
        ledger = list(s.scalars(select(PendingEntry).where(PendingEntry.subject == number)))
        assert ledger and all(e.type == "grievance.action" for e in ledger)
        assert len(ledger) == s.scalar(select(Grievance.last_seq).where(Grievance.number == number))
    for name in ("Filed", "Escalated", "Started", "Resolved", "Rated", "Appealed", "Closed", "Reopened", "Transferred", "Merged"):
        assert name in seen, (name, seen)
