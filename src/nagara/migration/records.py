"""Imported records made first-class: a property register's arrears become demands that can be paid
like any other (online through the gateway, or at the counter), raised in the batch that imports them.

A property (assessment) is registered once per body and assessment number, whichever row brings it
first; each row with arrears (tax, cess, penalty) becomes one demand for its half-year, numbered in
the body's property tax register, with the amounts exactly as the legacy register had them (no
further rebate or penalty is worked out on an arrear). The record keeps the demand's id.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from nagara.applications.data import seal_data
from nagara.applications.models import Application
from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.certificates import service as certificates
from nagara.certificates.models import Certificate
from nagara.kit import numbers
from nagara.kit.access import Principal, require
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Invalid, NotFound
from nagara.migration.mapping import Mapping
from nagara.migration.models import MigrationRecord, MigrationRun
from nagara.payments import accounts
from nagara.payments.models import Demand, DemandLine, Property
from nagara.runtime import runtime_of

# (record field, demand line code, head, line name): what an arrear row may carry.
ARREAR_LINES = (
    (
        "tax_arrear",
        "property-tax-arrear",
        "tax",
        {"en": "Property tax (arrear)", "ml": "വസ്തു നികുതി (കുടിശ്ശിക)", "kn": "ಆಸ್ತಿ ತೆರಿಗೆ (ಬಾಕಿ)", "hi": "संपत्ति कर (बकाया)"},
    ),
    (
        "cess_arrear",
        "library-cess-arrear",
        "cess",
        {"en": "Library cess (arrear)", "ml": "ലൈബ്രറി സെസ് (കുടിശ്ശിക)", "kn": "ಗ್ರಂಥಾಲಯ ಸೆಸ್ (ಬಾಕಿ)", "hi": "पुस्तकालय उपकर (बकाया)"},
    ),
    (
        "penalty_arrear",
        "penalty-arrear",
        "penalty",
        {"en": "Penalty (arrear)", "ml": "പിഴ (കുടിശ്ശിക)", "kn": "ದಂಡ (ಬಾಕಿ)", "hi": "जुर्माना (बकाया)"},
    ),
)


def _description(period: str, assessment: str) -> dict[str, str]:
    return {
        "en": f"Property tax arrear {period}, assessment {assessment} (migrated)",
        "ml": f"വസ്തു നികുതി കുടിശ്ശിക {period}, അസസ്മെന്റ് {assessment} (പഴയ രജിസ്റ്ററിൽ നിന്ന്)",
        "kn": f"ಆಸ್ತಿ ತೆರಿಗೆ ಬಾಕಿ {period}, ಮೌಲ್ಯಮಾಪನ {assessment} (ಹಳೆಯ ದಾಖಲೆಯಿಂದ)",
        "hi": f"संपत्ति कर बकाया {period}, निर्धारण {assessment} (पुराने रजिस्टर से)",
    }


def raise_arrears(session: Session, mapping: Mapping, new: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Demands for the arrears of a batch's new property records ``(body, natural_key, record)``.

    A fixed number of statements per batch: one query for the properties already registered,
    one flush of the new properties, demands and lines, one block of register numbers per body
    and year, one update linking the records.
    """
    owing = [(b, k, r) for b, k, r in new if sum(int(r.get(f, 0)) for f, *_ in ARREAR_LINES) > 0]
    if not owing:
        return 0
    assessments = {(b, str(r["assessment_number"])) for b, _k, r in owing}
    known = {
        (p.local_body_code, p.assessment_number): p
        for p in session.scalars(
            select(Property).where(
                Property.local_body_code.in_({b for b, _ in assessments}),
                Property.assessment_number.in_({a for _, a in assessments}),
            )
        )
    }
    for body, _key, record in owing:
        assessment = str(record["assessment_number"])
        if (body, assessment) not in known:
            prop = Property(
                id=new_id(),
                local_body_code=body,
                state_code=mapping.state,
                ward_code=f"{body}.w{record['ward_number']}" if record.get("ward_number") else None,
                assessment_number=assessment,
                usage=str(record["usage"]),
                zone=int(record.get("zone", 1)),
                plinth_area_sqm=int(record["plinth_area_sqm"]),
            )
            session.add(prop)
            known[(body, assessment)] = prop
    session.flush()  # the properties before the demands that name them
    # Numbers last, after every read: one block per register (body and financial year of the arrear).
    by_prefix: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for body, key, record in owing:
        year = str(record["period"]).split("/")[0]
        by_prefix.setdefault(numbers.register_prefix(body, "PT", year), []).append((body, key, record))
    links: list[dict[str, Any]] = []
    for prefix, rows in sorted(by_prefix.items()):
        first = numbers.take(session, prefix, len(rows))
        for offset, (body, key, record) in enumerate(rows):
            lines = [(code, head, name, int(record[f])) for f, code, head, name in ARREAR_LINES if int(record.get(f, 0)) > 0]
            demand = Demand(
                id=new_id(),
                number=numbers.register_number(prefix, first + offset),
                state_code=mapping.state,
                local_body_code=body,
                kind="property_tax",
                property_id=known[(body, str(record["assessment_number"]))].id,
                period=str(record["period"]),
                payer_id=None,
                description=_description(str(record["period"]), str(record["assessment_number"])),
                amount=sum(amount for *_, amount in lines),
                due_date=date.fromisoformat(str(record["due_date"])),
                rebate_until=None,
                rules={},
            )
            session.add(demand)
            for seq, (code, head, name, amount) in enumerate(lines, 1):
                session.add(
                    DemandLine(
                        demand_id=demand.id,
                        seq=seq,
                        code=code,
                        head=head,
                        account=accounts.account_for(head),
                        name=name,
                        amount=amount,
                    )
                )
            links.append({"b_register": mapping.register, "b_body": body, "b_key": key, "b_target": demand.id})
    session.flush()
    table = Table("migration_records", MigrationRecord.metadata)
    session.connection().execute(
        update(table)
        .where(
            table.c.register == bindparam("b_register"),
            table.c.natural_key == bindparam("b_key"),
            table.c.local_body_code == bindparam("b_body"),
        )
        .values(target_kind="demand", target_id=bindparam("b_target")),
        links,
    )
    return len(links)


# -- civil registration: a migrated record issued as the service's certificate on request --------

CIVIL_REGISTERS = ("births", "deaths", "marriages")
LICENCE_REGISTERS = ("trade-licences",)  # issued as the licence they were, with its number and validity
ISSUABLE = CIVIL_REGISTERS + LICENCE_REGISTERS
MIGRATED_LABEL = {
    "en": "Migrated from",
    "ml": "പഴയ രജിസ്റ്ററിൽ നിന്ന്",
    "kn": "ಹಳೆಯ ದಾಖಲೆಯಿಂದ",
    "hi": "पुराने रजिस्टर से",
    "ur": "پرانے رجسٹر سے",
}
ISSUE = "certificates:certificate:manage"


def _licence(
    session: Session, service: Service, local_body_code: str, data: dict[str, Any]
) -> tuple[str, datetime, datetime | None]:
    """A migrated licence's number (as a renewal names it: trimmed, upper case) and validity."""
    number = str(data["licence_number"]).strip().upper()
    output_type = (service.definition.get("output") or {}).get("type")
    taken = session.scalar(
        select(Certificate.id).where(
            Certificate.number == number,
            Certificate.local_body_code == local_body_code,
            Certificate.output_type == output_type,
        )
    )
    if taken is not None:
        raise Invalid(
            "number taken",
            [{"loc": ["legacy_number"], "msg": f"a licence numbered {number} is already issued here", "type": "value_error"}],
        )
    start = datetime.combine(date.fromisoformat(str(data["issued_on"])), time(0), UTC)
    until = data.get("valid_until")
    end = datetime.combine(date.fromisoformat(str(until)) + timedelta(days=1), time(0), UTC) if until else None
    return number, start, end


def find_record(session: Session, local_body_code: str, register: str, legacy_number: str) -> MigrationRecord:
    found = session.scalars(
        select(MigrationRecord)
        .where(
            MigrationRecord.local_body_code == local_body_code,
            MigrationRecord.register == register,
            MigrationRecord.legacy_number == legacy_number,
        )
        .with_for_update()
    ).first()
    if found is None:
        raise NotFound(f"no migrated {register} record {legacy_number!r} at {local_body_code}")
    return found


def issue_certificate(
    session: Session, principal: Principal, local_body_code: str, register: str, legacy_number: str
) -> tuple[Application, Certificate]:
    """The migrated record as an approved case of its service, with the service's certificate (a
    verifiable credential whose record says it was migrated, from which register, number and date).
    Asked twice, the same case and certificate.

    A migrated trade licence keeps its number and validity (valid from the day the legacy register
    issued it to the end of its last valid day), so the service's renewal finds and renews it by
    that number as it renews a licence issued here."""
    if register not in ISSUABLE:
        raise Invalid(
            "not an issuable register",
            [{"loc": ["register"], "msg": f"allowed: {', '.join(ISSUABLE)}", "type": "value_error"}],
        )
    state_code = local_body_code.split(".", 1)[0]
    require(principal, ISSUE, state_code=state_code, local_body_code=local_body_code)
    record = find_record(session, local_body_code, register, legacy_number)
    if record.target_kind == "application" and record.target_id:
        app = session.get(Application, record.target_id)
        _, certs = certificates.for_application(session, principal, app.number) if app else (None, [])
        if app is not None and certs:
            return app, certificates.current(certs)
    run = session.get(MigrationRun, record.run_id)
    if run is None or not run.service_code:
        raise Invalid(
            "no service",
            [
                {
                    "loc": ["register"],
                    "msg": "the mapping that imported this record names no service to issue it through",
                    "type": "value_error",
                }
            ],
        )
    service = catalog.get_service(session, local_body_code, run.service_code)
    data = json.loads(runtime_of(session).cipher.decrypt(record.data_sealed, context="migration-record"))
    if not data.get("child_name") and data.get("child_name_ml"):
        data["child_name"] = data["child_name_ml"]
    fields = service.definition["form"]["schema"].get("properties", {})
    form = {k: v for k, v in data.items() if k in fields}
    now = utcnow()
    app = Application(
        id=new_id(),
        number=numbers.next_number(session, local_body_code, service.definition["short"], now.year),
        state_code=state_code,
        local_body_code=local_body_code,
        service_code=service.code,
        service_version_id=service.version_id,
        applicant_id=principal.user_id,
        filed_by_id=principal.user_id,
        data_sealed="",
        state="approved",
        is_open=False,
        outcome="approved",
        submitted_at=now,
        decided_at=now,
        state_entered_at=now,
    )
    session.add(app)
    session.flush()
    seal_data(session, app, form)  # its search terms name the case: after its row
    origin = f"{run.mapping_code}, {legacy_number}"
    if record.record_date:
        origin += f", {record.record_date.isoformat()}"
    provenance = [{"type": "RecordField", "code": "migrated_from", "label": MIGRATED_LABEL, "value": origin}]
    legacy = _licence(session, service, local_body_code, data) if register in LICENCE_REGISTERS else None
    cert = certificates.issue_on_approval(session, service, app, now, provenance=provenance, legacy=legacy)
    if cert is None:
        raise Invalid(
            "no certificate",
            [{"loc": ["register"], "msg": f"service {service.code!r} issues no certificate", "type": "value_error"}],
        )
    record.target_kind, record.target_id = "application", app.id
    session.flush()
    return app, cert
