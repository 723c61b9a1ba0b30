"""Sample data for the demo: three months of a local body's work, written by the real services.

``nagara demo`` runs :func:`add_sample` on a fresh database and ``nagara sample`` adds to an
existing one. For every demo local body (``demo.DEMO_BODIES``) it takes the services the
body offers (from the loaded packs), and for each application plays what the people do, in
time order: the citizen applies (form, documents, submit) or keeps a draft, pays online (the
local gateway and the browser's return) or at the counter, the officers move it along the
workflow (forward, inspect, return for correction, approve, reject), the citizen resubmits,
withdraws or appeals, and the appellate authorities decide. Every step is a call of the
same service function the API calls, as the person who would act, with the clock set to
the step's time (``kit.db.clock_set_to``), so the history, fee demands, receipts, journal
vouchers, certificates and ledger entries are the ones those steps produce. The scheduled
sweep runs each simulated day, so late work is escalated and breaches recorded as in life.
The counter clerks close each past day they collected on; the ledger is integrated at the end.

Deterministic for a seed and a "now". Mobile numbers are 90000 0xxxx, a range no operator
issues; names are invented from common Malayalam, Kannada and English spellings.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nagara.applications import service as applications
from nagara.applications.documents import required_codes
from nagara.applications.models import Application
from nagara.catalog import service as catalog
from nagara.catalog.definitions import APPEAL, APPEAL_DISMISSED, APPLICANT, DRAFT, FIRST_APPEAL, SECOND_APPEAL, SUBMIT, Service
from nagara.catalog.forms import form_errors
from nagara.demo import DEMO_BODIES, DEMO_CITIZEN_MOBILE, demo_officers
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit.access import Principal
from nagara.kit.db import Database, clock_set_to, try_single_runner, utcnow
from nagara.kit.errors import Problem
from nagara.ledger import integrator
from nagara.payments import counter, online, reports
from nagara.payments.demands import amount_due, demand_of_application
from nagara.payments.gateways import local_gateway
from nagara.payments.models import DayClose
from nagara.payments.service import local_day
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place

log = logging.getLogger("nagara.sample")

DEFAULT_SEED = 13
DEFAULT_APPLICATIONS = 320
DEFAULT_DAYS = 90
CITIZENS_PER_STATE = 60
FAKE_MOBILE_BASE = 9000000000  # 90000 00001 is the demo citizen; 90000 0xxxx is no real number

# A tiny valid PDF: what the citizens "upload" (the documents are checked by content type).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# --- names, places and words -------------------------------------------------------------------

# (male given names, female given names, family names): combined only within a community.
NAMES: dict[str, list[tuple[list[str], list[str], list[str]]]] = {
    "kl-en": [
        (
            ["Arun", "Vishnu", "Harikrishnan", "Suresh", "Rajeev"],
            ["Anupama", "Lakshmi", "Meera", "Sreedevi", "Divya"],
            ["Nair", "Menon", "Pillai", "Kurup"],
        ),
        (
            ["Joseph", "Thomas", "Jithin", "Binu", "George"],
            ["Ann Maria", "Mariamma", "Sneha", "Jincy", "Rosamma"],
            ["Varghese", "Kurian", "Mathew", "Joseph"],
        ),
        (
            ["Mohammed Shafi", "Abdul Rahman", "Faisal", "Anwar", "Shihab"],
            ["Fathima", "Ayisha", "Rasiya", "Shabna", "Nafeesa"],
            ["Basheer", "Koya", "Rahim", "Hameed"],
        ),
    ],
    "kl-ml": [
        (
            ["അരുൺ", "വിഷ്ണു", "ഹരികൃഷ്ണൻ", "സുരേഷ്", "രാജീവ്"],
            ["അനുപമ", "ലക്ഷ്മി", "മീര", "ശ്രീദേവി", "ദിവ്യ"],
            ["നായർ", "മേനോൻ", "പിള്ള", "കുറുപ്പ്"],
        ),
        (
            ["ജോസഫ്", "തോമസ്", "ജിതിൻ", "ബിനു", "ജോർജ്"],
            ["ആൻ മരിയ", "മറിയാമ്മ", "സ്നേഹ", "ജിൻസി", "റോസമ്മ"],
            ["വർഗീസ്", "കുര്യൻ", "മാത്യു", "ജോസഫ്"],
        ),
        (
            ["മുഹമ്മദ് ഷാഫി", "അബ്ദുൾ റഹ്മാൻ", "ഫൈസൽ", "അൻവർ", "ഷിഹാബ്"],
            ["ഫാത്തിമ", "ആയിഷ", "റസിയ", "ഷബ്ന", "നഫീസ"],
            ["ബഷീർ", "കോയ", "റഹീം", "ഹമീദ്"],
        ),
    ],
    "ka-en": [
        (
            ["Srinivasa", "Manjunath", "Raghavendra", "Prakash", "Ramesh"],
            ["Lakshmi", "Kavya", "Anitha", "Suma", "Shwetha"],
            ["Gowda", "Hegde", "Shetty", "Rao", "Kulkarni", "Patil", "Naik"],
        ),
        (["Mohammed Ismail", "Imran", "Syed Anwar"], ["Ayesha", "Shabana", "Nazia"], ["Khan", "Pasha", "Sheriff"]),
        (["Santosh", "Joseph", "Praveen"], ["Flavia", "Sheela", "Priya"], ["D'Souza", "Pinto", "Fernandes"]),
    ],
    "ka-kn": [
        (
            ["ಶ್ರೀನಿವಾಸ", "ಮಂಜುನಾಥ", "ರಾಘವೇಂದ್ರ", "ಪ್ರಕಾಶ್", "ರಮೇಶ್"],
            ["ಲಕ್ಷ್ಮಿ", "ಕಾವ್ಯ", "ಅನಿತಾ", "ಸುಮಾ", "ಶ್ವೇತಾ"],
            ["ಗೌಡ", "ಹೆಗ್ಡೆ", "ಶೆಟ್ಟಿ", "ರಾವ್", "ಕುಲಕರ್ಣಿ", "ಪಾಟೀಲ್", "ನಾಯಕ್"],
        ),
        (["ಮಹಮ್ಮದ್ ಇಸ್ಮಾಯಿಲ್", "ಇಮ್ರಾನ್", "ಸೈಯದ್ ಅನ್ವರ್"], ["ಆಯೆಷಾ", "ಶಬಾನಾ", "ನಾಜಿಯಾ"], ["ಖಾನ್", "ಪಾಷಾ", "ಷರೀಫ್"]),
    ],
}
LOCAL_SCRIPT = {"kl": "ml", "ka": "kn"}
WORDS: dict[str, dict[str, list[str]]] = {
    "kl": {
        "hospital": [
            "SAT Hospital, Thiruvananthapuram",
            "Government Medical College Hospital",
            "KIMS Hospital",
            "General Hospital, Ernakulam",
            "Lourdes Hospital",
            "Women and Children Hospital, Thycaud",
        ],
        "trade": [
            "Sree Krishna Bakery",
            "Malabar Tea Stall",
            "Kerala Textiles",
            "St. Mary's Medicals",
            "Anugraha Tailoring",
            "Green Leaf Restaurant",
            "Al-Ameen Stores",
            "Kairali Mobiles",
        ],
        "village": ["Kowdiar", "Pattom", "Vattiyoorkavu", "Edappally", "Kakkanad", "Vyttila", "Nemom"],
        "marriage_place": [
            "St. Joseph's Cathedral, Palayam",
            "Sree Padmanabha Swamy Temple hall",
            "Juma Masjid, Beemapally",
            "Sub Registrar Office, Ernakulam",
            "Town Hall, Kochi",
        ],
    },
    "ka": {
        "hospital": [
            "Vani Vilas Hospital, Bengaluru",
            "Bowring and Lady Curzon Hospital",
            "Cheluvamba Hospital, Mysuru",
            "K R Hospital, Mysuru",
            "St. Martha's Hospital, Bengaluru",
        ],
        "trade": [
            "Sri Manjunatha Condiments",
            "Udupi Sagar Hotel",
            "Mysore Silk Emporium",
            "Kaveri Hardware",
            "Namma Mobiles",
            "Sri Lakshmi Provision Stores",
            "Chamundi Tailors",
        ],
        "village": ["Shivajinagar", "Gandhinagar", "Chamarajapuram", "Kuvempunagar", "Jayanagar"],
        "marriage_place": [
            "Sri Chamundeshwari Temple hall",
            "St. Philomena's Church, Mysuru",
            "Jamia Masjid, Bengaluru",
            "Sub Registrar Office, Gandhinagar",
        ],
    },
}
PURPOSES = ["Bank loan", "School admission", "Passport application", "LPG connection", "Scholarship application"]
ACTIVITIES = ["Bakery and sweets", "Tailoring", "Mobile phone sales and repair", "Grocery retail", "Restaurant"]
REMARKS = {
    "return": [
        "The identity document is not legible; upload a clearer copy.",
        "The name differs between the form and the document; correct it.",
        "The supporting document is missing a page.",
    ],
    "reject": [
        "The records do not support the claim.",
        "The building is not in the assessment register.",
        "The applicant is not entitled to this certificate.",
    ],
    "approve": ["Verified against the register.", "All in order."],
    "other": ["Checked.", "Site visited; as stated in the application.", "Forwarded after verification."],
    "appeal": [
        "I have submitted every document asked for; please reconsider.",
        "The rejection overlooked the register entry of my building.",
    ],
    "decide": [
        "On hearing the appellant, the records support the application.",
        "The appeal raises nothing the decision did not consider.",
    ],
}


# --- the plan of one application ---------------------------------------------------------------

# What happens to an application in the end (weights for the mix of a realistic office).
FATES: list[tuple[str, int]] = [
    ("draft", 5),
    ("open", 24),  # somewhere in the office's hands; the older ones past their time limit
    ("returned", 7),  # waiting for the applicant's correction
    ("corrected", 8),  # returned, corrected, then approved
    ("approved", 32),
    ("rejected", 8),
    ("first_appeal", 4),  # rejected and appealed, the appellate authority to decide
    ("second_appeal", 3),  # rejected, first appeal dismissed, the state to decide
    ("appeal_allowed", 3),  # rejected, appeal allowed, then approved
    ("withdrawn", 6),
]


@dataclass
class Plan:
    index: int
    body: str
    state: str
    service: str
    citizen: int
    fate: str
    start: datetime
    stop_after: int  # office steps to take before stopping ("open")
    online: bool  # pays online (else at the counter)
    pays_early: bool = True  # pays the fee soon after applying (else when the approval needs it)
    brisk: bool = False  # each office step within a day (the showcase reaches its step in the days it has)
    number: str | None = None
    office_steps: int = 0
    returned: bool = False
    appealed: int = 0
    done: bool = False


@dataclass
class SampleReport:
    applications: int = 0
    steps: int = 0
    payments: int = 0
    day_closes: int = 0
    ledger_size: int = 0
    failures: list[str] = field(default_factory=list)
    by_state: dict[str, int] = field(default_factory=dict)


@dataclass
class _World:
    rng: random.Random
    now: datetime
    officers: dict[tuple[str, str], Principal]  # (local body or state, role) -> principal
    citizens: dict[str, list[tuple[Principal, str, str]]]  # state -> (principal, name, script)
    services: dict[str, dict[str, Service]]  # body -> code -> service
    zones: dict[str, ZoneInfo]
    calendars: dict[str, Any]
    collected: set[tuple[str, date]] = field(default_factory=set)


# --- form data from a service's schema ---------------------------------------------------------


def _person(rng: random.Random, state: str, script: str, sex: str, family: str | None = None) -> tuple[str, str]:
    """A full name (and its family name) for ``sex`` in ``state``, in ``script`` (en or the state's)."""
    groups = NAMES[f"{state}-{script}"]
    males, females, families = groups[rng.randrange(len(groups))]
    given = rng.choice(females if sex == "female" else males)
    family = family or rng.choice(families)
    return f"{given} {family}", family


def _date_before(at: datetime, low: int, high: int, rng: random.Random) -> str:
    return (at.date() - timedelta(days=rng.randint(low, high))).isoformat()


DATE_FIELDS: dict[str, tuple[int, int]] = {
    "date_of_birth": (2, 40),  # a child's birth, registered within weeks
    "date_of_death": (1, 20),
    "date_of_marriage": (15, 300),
    "residing_since": (365, 7300),
    "permit_date": (400, 1100),
    "completion_date": (10, 90),
    "deed_date": (10, 120),
    "licence_valid_until": (-20, 25),
}
NUMBER_FIELDS: dict[str, tuple[float, float]] = {
    "age_at_death": (38, 94),
    "additional_copies": (0, 2),
    "floors": (1, 3),
    "height": (3.5, 11),
    "plot_area": (120, 900),
    "site_area": (110, 800),
    "built_up_area": (60, 420),
    "plinth_area": (60, 300),
    "premises_area": (15, 180),
    "floor_area": (15, 180),
    "capital_investment": (50_000, 2_500_000),
    "estimated_cost": (1_500_000, 9_000_000),
    "stamp_duty_paid": (20_000, 400_000),
    "power_hp": (0, 10),
    "ward": (1, 30),
}
TRUE_ODDS = {"self_certified": 0.3, "is_flat": 0.2, "deviations": 0.15, "changes_since_last": 0.2, "food_business": 0.3}


def _conditional(schema: dict[str, Any]) -> set[str]:
    """Fields a ``then`` requires: present only when the ``if`` holds."""
    found: set[str] = set()
    for key, value in schema.items():
        if key == "then" and isinstance(value, dict):
            found.update(value.get("required", []))
        elif isinstance(value, dict):
            found |= _conditional(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    found |= _conditional(item)
    return found


def _code(rng: random.Random, name: str, at: datetime) -> str | None:
    year = at.year - rng.randint(0, 3)
    n = rng.randint(1, 9999)
    codes = {
        "building_number": f"{rng.randint(1, 40)}/{rng.randint(100, 999)}",
        "property_id": f"PID/W{rng.randint(1, 60):02d}/{n:04d}",
        "survey_number": f"{rng.randint(10, 999)}/{rng.randint(1, 20)}",
        "permit_number": f"BP/{year}/{n:05d}",
        "licence_number": f"TL/{year}/{n:05d}",
        "occupancy_certificate_number": f"OC/{year}/{n:05d}",
        "deed_number": f"{n}/{year}",
        "registration_number": f"B-{year}-{n:05d}",
        "architect_registration": f"CA/{year - 8}/{rng.randint(10000, 99999)}",
        "licensee_registration": f"LBS/{year - 5}/{n:04d}",
        "fire_noc_number": f"FNOC/{year}/{n:04d}",
        "fssai_number": "".join(str(rng.randint(0, 9)) for _ in range(14)),
        "flat_number": f"{rng.randint(1, 9)}{rng.choice('ABCD')}",
    }
    return codes.get(name)


def _value(rng: random.Random, name: str, schema: dict[str, Any], ctx: dict[str, Any]) -> Any:
    """A plausible value for field ``name`` (its name says what it is); else any valid one."""
    at: datetime = ctx["at"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return rng.random() < TRUE_ODDS.get(name, 0.2)
    if kind in ("integer", "number"):
        low, high = NUMBER_FIELDS.get(name, (1, 100))
        low = max(low, schema.get("minimum", low))
        high = min(high, schema.get("maximum", high))
        value = rng.uniform(low, high)
        return round(value) if kind == "integer" else round(value, 1)
    if kind != "string":
        return None
    if schema.get("format") == "date":
        low, high = DATE_FIELDS.get(name, (5, 200))
        if name.endswith("_date_of_birth"):
            low, high = 22 * 365, 40 * 365
        return _date_before(at, low, high, rng)
    code = _code(rng, name, at)
    if code is not None:
        return code
    state, script = ctx["state"], ctx["script"]
    words = WORDS[state]
    if name.endswith("_name") or name == "name":
        return _named(rng, name, ctx)
    if "hospital" in name or name == "place_of_birth":
        return rng.choice(words["hospital"])
    if name == "village":
        return rng.choice(words["village"])
    if name in ("place_of_marriage", "religious_institution"):
        return rng.choice(words["marriage_place"])
    if name == "activity":
        return rng.choice(ACTIVITIES)
    if name.startswith("purpose"):
        return rng.choice(PURPOSES)
    if name.endswith(("_details", "_description")):
        if "deviation" in name:
            return "Rear sit-out enclosed; staircase widened by 30 cm."
        return "Near the bus stand, ward office road."
    del script
    return None


def _named(rng: random.Random, name: str, ctx: dict[str, Any]) -> str:
    state, script, family = ctx["state"], ctx["script"], ctx.get("family")
    if name == "trade_name":
        return rng.choice(WORDS[state]["trade"])
    female = name.startswith(("mother", "wife")) or (name in ("child_name", "deceased_name") and ctx.get("sex") == "female")
    male = name.startswith(("father", "husband"))
    sex = "female" if female else "male" if male else rng.choice(["female", "male"])
    if name in ("child_name", "mother_name", "father_name", "resident_name", "owner_name") and family:
        full, _ = _person(rng, state, script, sex, family)
        return full
    full, fam = _person(rng, state, script, sex)
    ctx.setdefault("family", fam)
    return full


def form_for(rng: random.Random, service: Service, state: str, at: datetime, applicant: tuple[str, str]) -> dict[str, Any]:
    """A complete, valid form for ``service``: required fields, the conditional ones the ``if``s
    ask for, and most optional ones; each value what its field name says it is."""
    schema = service.definition["form"]["schema"]
    props: dict[str, Any] = schema.get("properties", {})
    name, script = applicant
    ctx: dict[str, Any] = {"at": at, "state": state, "script": script, "family": name.rsplit(" ", 1)[-1]}
    if "sex" in props:
        ctx["sex"] = rng.choice(props["sex"].get("enum", ["female"]))
    conditional = _conditional(schema)
    wanted = list(schema.get("required", [])) + [
        p for p in props if p not in schema.get("required", []) and p not in conditional and rng.random() < 0.7
    ]
    data: dict[str, Any] = {}
    for key in [k for k in props if k in wanted]:  # in the form's order, so names share a family
        value = ctx.get("sex") if key == "sex" else _value(rng, key, props[key], ctx)
        data[key] = value if value is not None else _any(props[key])
    for _ in range(4):  # add what the conditions require, until the form is complete
        errors = form_errors(schema, data)
        if not errors:
            return data
        for e in errors:
            field_name = e["loc"][-1] if e["loc"] else None
            if isinstance(field_name, str) and field_name in props:
                value = _value(rng, field_name, props[field_name], ctx)
                data[field_name] = value if value is not None and e["type"] == "required" else _any(props[field_name])
    errors = form_errors(schema, data)
    if errors:
        raise ValueError(f"{service.code}: no valid sample form: {errors}")
    return data


def _any(schema: dict[str, Any]) -> Any:
    """Any valid value by the schema alone (for fields the name heuristics do not know)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "date":
            return (utcnow().date() - timedelta(days=30)).isoformat()
        text = "12345678901234567890"
        return text[: max(schema.get("minLength", 1), min(schema.get("maxLength", 14), 14))]
    if kind in ("integer", "number"):
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return {}


# --- time: office hours on working days, in the local body's zone -------------------------------


def _office_time(world: _World, body: str, after: datetime) -> datetime:
    """The first moment at or after ``after`` when the office is open (10:00-17:00 on a working day)."""
    zone, calendar = world.zones[body], world.calendars[body]
    local = after.astimezone(zone)
    day = local.date()
    if local.time() >= time(17, 0):
        day, local = day + timedelta(days=1), datetime.combine(day + timedelta(days=1), time(10, 0), zone)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
        local = datetime.combine(day, time(10, 0), zone)
    if local.date() != day or local.time() < time(10, 0):
        local = datetime.combine(day, time(10, 0), zone) + timedelta(minutes=world.rng.randint(0, 90))
    return local.astimezone(UTC)


def _citizen_time(world: _World, body: str, after: datetime) -> datetime:
    """Citizens apply and pay online at any hour from 07:00 to 22:00."""
    local = after.astimezone(world.zones[body])
    if local.time() < time(7, 0):
        local = datetime.combine(local.date(), time(7, 0), local.tzinfo) + timedelta(minutes=world.rng.randint(0, 600))
    elif local.time() > time(22, 0):
        local = datetime.combine(local.date() + timedelta(days=1), time(7, 0), local.tzinfo) + timedelta(
            minutes=world.rng.randint(0, 600)
        )
    return local.astimezone(UTC)


# --- the steps ---------------------------------------------------------------------------------


def _citizen(world: _World, plan: Plan) -> Principal:
    return world.citizens[plan.state][plan.citizen][0]


def _officer(world: _World, plan: Plan, role: str) -> Principal | None:
    return world.officers.get((plan.body, role)) or world.officers.get((plan.state, role))


def _route(service: Service, start: str, goal: str, avoid: set[str]) -> list[dict[str, Any]]:
    """The shortest list of workflow actions from ``start`` to ``goal`` (not through ``avoid``)."""
    queue: list[tuple[str, list[dict[str, Any]]]] = [(start, [])]
    seen = {start}
    while queue:
        here, path = queue.pop(0)
        if here == goal:
            return path
        for a in service.actions():
            to = a["to"]
            if here in a["from"] and to not in seen and to != "=" and to not in avoid:
                seen.add(to)
                queue.append((to, [*path, a]))
    return []


def _outcome_state(service: Service, outcome: str) -> str | None:
    return next((s for s, v in service.workflow["states"].items() if v.get("final") and v.get("outcome") == outcome), None)


def _applicant_states(service: Service) -> set[str]:
    return {s for s, v in service.workflow["states"].items() if v.get("role") == APPLICANT}


def _next_step(world: _World, plan: Plan, app: Application, service: Service) -> tuple[str, str, str | None] | None:
    """What happens next to the application: (who acts, the action, a comment), or None when its story ends."""
    fate = plan.fate
    if app.state == DRAFT:
        return None  # a draft the citizen has not submitted
    applicant_states = _applicant_states(service)
    if app.is_open and app.state in applicant_states:
        if fate == "returned":
            return None
        if fate == "withdrawn":
            withdraw = _action_to(service, app.state, "withdrawn")
            return (APPLICANT, withdraw, None) if withdraw else None
        resubmit = next(
            (
                a
                for a in service.actions()
                if app.state in a["from"]
                and APPLICANT in a["roles"]
                and not service.workflow["states"].get(a["to"], {}).get("final")
            ),
            None,
        )
        return (APPLICANT, resubmit["code"], None) if resubmit else None
    if app.state == FIRST_APPEAL:
        if fate == "first_appeal":
            return None
        role = service.workflow["appeals"]["first"]["role"]
        return (role, "allow_appeal" if fate == "appeal_allowed" else "dismiss_appeal", world.rng.choice(REMARKS["decide"]))
    if app.state == SECOND_APPEAL:
        return None
    if not app.is_open:
        rejected = app.outcome == "rejected"
        if rejected and fate in ("first_appeal", "appeal_allowed") and plan.appealed == 0:
            return (APPLICANT, APPEAL, world.rng.choice(REMARKS["appeal"]))
        if app.state == APPEAL_DISMISSED and fate == "second_appeal" and plan.appealed == 1:
            return (APPLICANT, APPEAL, world.rng.choice(REMARKS["appeal"]))
        if rejected and fate == "second_appeal" and plan.appealed == 0:
            return (APPLICANT, APPEAL, world.rng.choice(REMARKS["appeal"]))
        return None
    # In the office's hands. Most applicants pay the fee soon after applying.
    if plan.pays_early and app.fee_total > 0 and not app.fee_paid and fate != "withdrawn":
        return ("payer", "pay", None)
    if fate == "open" and plan.office_steps >= plan.stop_after:
        return None
    if fate == "withdrawn" and plan.office_steps >= plan.stop_after:
        withdraw = _action_to(service, app.state, "withdrawn")
        return (APPLICANT, withdraw, None) if withdraw else None
    if fate in ("returned", "corrected") and not plan.returned:
        goal = next(iter(sorted(applicant_states)), None)
    elif fate in ("rejected", "first_appeal", "second_appeal") or (fate == "appeal_allowed" and plan.appealed == 0):
        goal = _outcome_state(service, "rejected")
    else:
        goal = _outcome_state(service, "approved")
    if goal is None:
        return None
    route = _route(service, app.state, goal, applicant_states - {goal})
    if not route:
        return None
    action = route[0]
    if "fee_paid" in action.get("guards", []) and app.fee_total > 0 and not app.fee_paid:
        return ("payer", "pay", None)
    kind = action["code"] if action["code"] in ("return", "reject", "approve") else "other"
    comment = world.rng.choice(REMARKS.get(kind, REMARKS["other"]))
    return (action["roles"][0], action["code"], comment)


def _action_to(service: Service, state: str, outcome: str) -> str | None:
    target = _outcome_state(service, outcome)
    return next((a["code"] for a in service.actions() if state in a["from"] and a["to"] == target), None)


def _apply(world: _World, session: Session, plan: Plan, report: SampleReport) -> None:
    """The citizen fills the form, uploads the documents and submits (or keeps it as a draft)."""
    service = world.services[plan.body][plan.service]
    citizen, name, script = world.citizens[plan.state][plan.citizen]
    at = utcnow()
    data = form_for(world.rng, service, plan.state, at, (name, script))
    app = applications.create(
        session, citizen, tenant=plan.body, service_code=plan.service, data=data, submit=False, language=script
    )
    plan.number = app.number
    docs = required_codes(service, data, at.date())
    for code in docs if plan.fate != "draft" else docs[: len(docs) // 2]:
        applications.upload(
            session, citizen, app.number, doc_type=code, filename=f"{code}.pdf", declared="application/pdf", content=PDF
        )
    if plan.fate != "draft":
        applications.act(session, citizen, app.number, action=SUBMIT, comment=None, version=app.version)
    report.applications += 1


def _pay(world: _World, session: Session, plan: Plan, app: Application, report: SampleReport) -> bool:
    """The fee: online by the citizen (the local gateway, then the browser's return), or in cash at the counter."""
    number = app.number
    citizen = _citizen(world, plan)
    clerk = _officer(world, plan, "counter_clerk")
    day = utcnow().astimezone(world.zones[plan.body]).date()
    if clerk is None or _closed(session, clerk, plan.body, day):  # an earlier run closed that day: pay online
        plan.online = True
    if plan.online:
        demand = demand_of_application(session, citizen, number)
        if demand is None or demand.status != "due":
            return False
        created = online.create_online_payment(session, citizen, demand.number, method="upi", idempotency_key=None)
        gateway = local_gateway(runtime_of(session))
        assert created.payment.gateway_order_id is not None
        back = gateway.complete(session, created.payment.gateway_order_id, outcome="paid", method="upi")
        online.handle_return(session, gateway.name, dict(parse_qsl(urlsplit(back).query)))
    else:
        assert clerk is not None
        demand = demand_of_application(session, clerk, number)
        if demand is None or demand.status != "due":
            return False
        due, _lines = amount_due(session, demand, local_day(session, demand.state_code, utcnow()))
        counter.counter_payment(session, clerk, demand.number, method="cash", amount=due, instrument=None, idempotency_key=None)
        world.collected.add((plan.body, day))
    report.payments += 1
    return True


def _take(world: _World, session: Session, plan: Plan, report: SampleReport) -> datetime | None:
    """Take the application's next step; return when the one after it happens (None: its story ends)."""
    assert plan.number is not None
    citizen = _citizen(world, plan)
    app = applications.get(session, citizen, plan.number)
    service = applications.service_for(session, app)
    step = _next_step(world, plan, app, service)
    if step is None:
        return None
    who, action, comment = step
    if action == "pay":
        if not _pay(world, session, plan, app, report):
            return None
    else:
        actor = citizen if who == APPLICANT else _officer(world, plan, who)
        if actor is None:
            return None
        applications.act(session, actor, plan.number, action=action, comment=comment, version=app.version)
        if who != APPLICANT:
            plan.office_steps += 1
        if action == APPEAL:
            plan.appealed += 1
        if app.state in _applicant_states(service):
            plan.returned = True
    report.steps += 1
    return _when_next(world, plan, app, service)


def _when_next(world: _World, plan: Plan, app: Application, service: Service) -> datetime:
    """The next step's time: officers within the state's time limit mostly, sometimes late; citizens in days."""
    rng, now = world.rng, utcnow()
    if not app.is_open or app.assigned_role == APPLICANT:
        return _citizen_time(world, plan.body, now + timedelta(hours=rng.uniform(6, 24 * 6)))
    limit = service.state(app.state).get("sla_days") or 3
    late = rng.random() < 0.08
    days = limit * (rng.uniform(1.2, 2.0) if late else rng.uniform(0.05, 0.8))
    if plan.brisk:
        days = rng.uniform(0.05, 0.5)
    if app.fee_total > 0 and not app.fee_paid and plan.pays_early:
        if plan.online:
            return _citizen_time(world, plan.body, now + timedelta(hours=rng.uniform(1, 30)))
        return _office_time(world, plan.body, now + timedelta(hours=rng.uniform(2, 36)))  # to the counter
    return _office_time(world, plan.body, now + timedelta(days=days))


# --- setting up the people ---------------------------------------------------------------------


def _demo_citizen(session: Session, state: str, mobile: str) -> User:
    """A citizen with this number, as their first sign-in registers them (``identity.verify_otp``)."""
    runtime = runtime_of(session)
    number = identity.normalise_mobile(mobile)
    index = identity.mobile_index(runtime, state, number)
    user = session.scalar(select(User).where(User.mobile_index == index))
    if user is None:
        user = User(
            kind="citizen", state_code=state, mobile_index=index, mobile_sealed=runtime.cipher.encrypt(number, context="mobile")
        )
        session.add(user)
        session.flush()
        session.add(RoleAssignment(user_id=user.id, state_code=state, role_code="citizen"))
        session.flush()
    return user


def _world(session: Session, rng: random.Random, now: datetime) -> _World:
    officers: dict[tuple[str, str], Principal] = {}
    for person in demo_officers(session):
        user = session.scalar(select(User).where(User.username == person.username))
        if user is not None:
            officers[(person.local_body or person.state, person.role)] = identity.load_principal(session, user, "bearer")
    services: dict[str, dict[str, Service]] = {}
    zones: dict[str, ZoneInfo] = {}
    calendars: dict[str, Any] = {}
    states: list[str] = []
    for state, bodies in DEMO_BODIES.items():
        for short in bodies:
            code = f"{state}.{short}"
            if (code, "section_clerk") not in officers:
                continue  # that state's pack, or its demo accounts, are not loaded
            services[code] = {s.code: s for s in catalog.list_services(session, code)}
            place = body_place(session, code)
            zones[code], calendars[code] = place.zone, place.calendar
            if state not in states:
                states.append(state)
    citizens: dict[str, list[tuple[Principal, str, str]]] = {}
    for state in states:
        people = []
        for i in range(CITIZENS_PER_STATE):
            mobile = DEMO_CITIZEN_MOBILE if i == 0 else str(FAKE_MOBILE_BASE + 1 + i)
            user = _demo_citizen(session, state, mobile)
            principal = identity.load_principal(session, user, "bearer")
            script = LOCAL_SCRIPT[state] if rng.random() < 0.4 and i else "en"
            name, _ = _person(rng, state, script, rng.choice(["female", "male"]))
            if user.name_sealed is None:
                identity.update_profile(session, principal, name=name, language=script)
            people.append((principal, name, script))
        citizens[state] = people
    return _World(rng, now, officers, citizens, services, zones, calendars)


# The first applications of each body: one of each kind, so that every demo officer's inbox,
# the state administrator's second appeals and the citizen's list have work in any run.
# (fate, office steps before stopping, days ago it started)
SHOWCASE: list[tuple[str, int, float]] = [
    ("open", 0, 0.5),
    ("open", 1, 4),  # paid at the counter (the longest workflows have fees)
    ("open", 2, 6),
    ("returned", 0, 3),
    ("approved", 0, 20),
    ("first_appeal", 0, 45),
    ("second_appeal", 0, 70),
    ("rejected", 0, 30),
    ("withdrawn", 1, 10),
    ("draft", 0, 2),
]
DEMO_CITIZEN_SHOWS = {0, 3, 4, 5, 9}  # open, returned to them, approved, appealed, a draft


def _office_states(service: Service) -> list[str]:
    return [s for s, v in service.workflow["states"].items() if v.get("role") not in (None, APPLICANT)]


def _plans(world: _World, count: int, days: int) -> list[Plan]:
    rng = world.rng
    bodies = list(world.services)
    fates, weights = zip(*FATES, strict=True)
    plans: list[Plan] = []
    for i in range(count):
        body = bodies[i % len(bodies)]
        state = body.split(".", 1)[0]
        offered = world.services[body]
        showcase = i // len(bodies)
        # The demo citizen has one at each kind of step, and every eighth application after those.
        theirs = showcase in DEMO_CITIZEN_SHOWS if showcase < len(SHOWCASE) else showcase % 8 == 0
        citizen = 0 if theirs else rng.randrange(1, len(world.citizens[state]))
        if showcase < len(SHOWCASE):
            fate, stop_after, ago = SHOWCASE[showcase]
            if fate == "open":  # the longest workflow, stopped with each office role in turn
                code = max(sorted(offered), key=lambda c: len(_office_states(offered[c])))
            else:  # the quickest, so that appeals are decided within the days played
                code = min(sorted(offered), key=lambda c: offered[c].workflow["sla_days"])
            start = _citizen_time(world, body, world.now - timedelta(days=min(ago, days)))
        else:
            code = rng.choice(sorted(offered))
            fate = rng.choices(fates, weights)[0]
            if fate in ("open", "returned", "draft"):
                ago = rng.uniform(0, 8) if rng.random() < 0.7 else rng.uniform(8, 45)  # older open work is overdue
            else:
                ago = rng.uniform(5, days)
            start = _citizen_time(world, body, world.now - timedelta(days=ago))
            stop_after = rng.randrange(0, max(1, len(_office_states(offered[code]))))
        start = min(start, world.now - timedelta(minutes=rng.uniform(10, 120)))  # office hours may be still to come
        online = rng.random() < 0.5 and showcase not in (1, 2)
        plan = Plan(i, body, state, code, citizen, fate, start, stop_after, online, pays_early=rng.random() < 0.85)
        plan.brisk = showcase < len(SHOWCASE)
        plans.append(plan)
    return plans


# --- running it --------------------------------------------------------------------------------


def add_sample(
    db: Database,
    *,
    seed: int = DEFAULT_SEED,
    applications_count: int = DEFAULT_APPLICATIONS,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SampleReport:
    """Play ``applications_count`` applications over the ``days`` before ``now`` in the demo local bodies."""
    rng = random.Random(seed)  # noqa: S311 - made-up data, repeatable for a seed
    now = (now or utcnow()) - timedelta(minutes=5)
    report = SampleReport()
    with clock_set_to(now - timedelta(days=days + 1)), db.unit_of_work() as session:
        world = _world(session, rng, now)
    if not world.services:
        return report
    plans = _plans(world, applications_count, days)
    queue: list[tuple[datetime, int, str]] = [(p.start, p.index, "apply") for p in plans]
    heapq.heapify(queue)
    closes = sorted(((b, d) for b in world.services for d in _days(world, b, now, days)), key=lambda bd: (bd[1], bd[0]))
    for body, day in closes:  # each working day, the counter clerk closes their counter
        heapq.heappush(queue, (datetime.combine(day, time(17, 45), world.zones[body]).astimezone(UTC), -1, f"close {body}"))
    done = 0
    while queue and queue[0][0] < now:
        day = queue[0][0].date()
        with db.unit_of_work() as session:  # one unit of work a simulated day (UTC)
            with clock_set_to(datetime.combine(day, time(0, 1), UTC)):
                applications.sweep_due(session)  # the scheduled sweep: late work escalated, breaches recorded
            while queue and queue[0][0] < now and queue[0][0].date() == day:
                at, index, what = heapq.heappop(queue)
                with clock_set_to(at):
                    if index < 0:
                        report.day_closes += _close(world, session, what.split(" ", 1)[1], at)
                        continue
                    nxt = _run(world, session, plans[index], what, report)
                if nxt is not None:
                    heapq.heappush(queue, (nxt, index, "step"))
                else:
                    done += 1
                    if progress:
                        progress(done, len(plans))
    with db.unit_of_work() as session:
        applications.sweep_due(session)
    report.ledger_size = integrate_ledger(db)
    with db.unit_of_work(readonly=True) as session:
        rows = session.execute(select(Application.state, func.count()).group_by(Application.state)).all()
        report.by_state = {str(s): int(n) for s, n in rows}
    return report


def _run(world: _World, session: Session, plan: Plan, what: str, report: SampleReport) -> datetime | None:
    """One event of one application, in a savepoint: a refusal undoes only it, and ends that application's story."""
    try:
        with session.begin_nested():
            if what != "apply":
                return _take(world, session, plan, report)
            _apply(world, session, plan, report)
            if plan.fate == "draft" or plan.number is None:
                return None
            app = applications.get(session, _citizen(world, plan), plan.number)
            return _when_next(world, plan, app, world.services[plan.body][plan.service])
    except (Problem, ValueError) as exc:
        report.failures.append(f"{plan.body} {plan.service} {plan.number or '(new)'} ({plan.fate}): {exc}")
        log.warning("sample: %s %s: %s", plan.service, plan.number, exc)
        return None


def _days(world: _World, body: str, now: datetime, days: int) -> list[date]:
    today = now.astimezone(world.zones[body]).date()
    return [
        today - timedelta(days=d) for d in range(1, days + 2) if world.calendars[body].is_working_day(today - timedelta(days=d))
    ]


def _close(world: _World, session: Session, body: str, at: datetime) -> int:
    day = at.astimezone(world.zones[body]).date()
    clerk = world.officers.get((body, "counter_clerk"))
    if clerk is None or (body, day) not in world.collected or _closed(session, clerk, body, day):
        return 0  # nothing taken at this counter that day, or closed already
    reports.close_day(session, clerk, body, day)
    return 1


def _closed(session: Session, clerk: Principal, body: str, day: date) -> bool:
    where = (DayClose.local_body_code == body, DayClose.business_date == day, DayClose.clerk_id == clerk.user_id)
    return session.scalar(select(DayClose.id).where(*where)) is not None


def integrate_ledger(db: Database) -> int:
    """Integrate every pending ledger entry and sign a checkpoint (as the worker's job does every second)."""
    while True:
        with db.unit_of_work() as session:
            if not try_single_runner(session, "ledger.integrate"):
                return -1  # the worker is integrating them now
            result = integrator.integrate(session, runtime_of(session).settings)
        if result.size == result.old_size:
            return result.size
