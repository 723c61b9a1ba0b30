"""Imported records made first-class: a property register's arrears become demands that can be paid
like any other (online through the gateway, or at the counter), raised in the batch that imports them.

A property (assessment) is registered once per body and assessment number, whichever row brings it
first; each row with arrears (tax, cess, penalty) becomes one demand for its half-year, numbered in
the body's property tax register, with the amounts exactly as the legacy register had them (no
further rebate or penalty is worked out on an arrear). The record keeps the demand's id.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from nagara.kit import numbers
from nagara.kit.db import new_id
from nagara.migration.mapping import Mapping
from nagara.migration.models import MigrationRecord
from nagara.payments import accounts
from nagara.payments.models import Demand, DemandLine, Property

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
