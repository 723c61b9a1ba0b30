"""Certificates issued per second (sign + PDF) and verifications per second, beside raw Ed25519 on the same bytes.

Runs in process, on one core, with no database: the credential and PDF steps are the
certificate code paths (eddsa-rdfc-2022 over RDFC-1.0 canonicalization with pyld,
WeasyPrint rendering, the QR code's compact form), fed a realistic birth certificate.
The reference is Ed25519 signing and verifying of the same hash input, measured in the
same run, so the figures read as "x times the raw signature".

    .venv/bin/python bench/certificates.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nagara.certificates import compact, dataintegrity, ld, render, verify
from nagara.certificates.multikey import public_multikey

KEY = Ed25519PrivateKey.generate()
DID = "did:web:kl.nagara.example"
VM = f"{DID}#{public_multikey(KEY.public_key())}"


def credential(n: int) -> dict[str, Any]:
    record = [
        ("child_name", {"ml": "കുട്ടിയുടെ പേര്", "en": "Name of the child"}, f"ആൻ മേരി {n}", None),
        ("sex", {"ml": "ലിംഗം", "en": "Sex"}, "female", {"ml": "സ്ത്രീ", "en": "Female"}),
        ("date_of_birth", {"ml": "ജനന തീയതി", "en": "Date of birth"}, "2026-11-28", None),
        ("place_of_birth", {"ml": "ജനന സ്ഥലം", "en": "Place of birth"}, "hospital", {"ml": "ആശുപത്രി", "en": "Hospital"}),
        ("hospital_name", {"ml": "ആശുപത്രിയുടെ പേര്", "en": "Name of the hospital"}, "SAT Hospital", None),
        ("mother_name", {"ml": "അമ്മയുടെ പേര്", "en": "Mother's name"}, "മേരി ജോസഫ്", None),
    ]
    fields = []
    for code, label, value, display in record:
        field: dict[str, Any] = {"type": "RecordField", "code": code, "label": label, "value": value}
        if display:
            field["display"] = display
        fields.append(field)
    number = f"KL-TVMCORP-B-2026-{n:06d}"
    return {
        "@context": [ld.VC_V2, ld.NAGARA_V1],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "NagaraCertificate"],
        "issuer": {"id": DID, "name": "Kerala"},
        "name": f"Birth certificate {number}",
        "validFrom": "2026-12-01T08:00:00Z",
        "credentialSubject": {
            "type": "CertifiedRecord",
            "certificateType": "birth-certificate",
            "registrationNumber": number,
            "edition": 1,
            "applicationNumber": f"KL-TVMCORP-BR-2026-{n:06d}",
            "serviceCode": "birth-registration",
            "localBodyCode": "kl.tvm-corp",
            "localName": {"ml": "തിരുവനന്തപുരം കോർപ്പറേഷൻ", "en": "Thiruvananthapuram Corporation"},
            "title": {"ml": "ജനന സർട്ടിഫിക്കറ്റ്", "en": "Birth certificate"},
            "statement": {"ml": "മൂല രജിസ്റ്ററിൽ നിന്ന്", "en": "Taken from the original record of birth."},
            "signatory": {"ml": "ജനന മരണ രജിസ്ട്രാർ", "en": "Registrar of Births and Deaths"},
            "record": fields,
        },
        "credentialStatus": [
            {
                "id": f"https://kl.nagara.example/credentials/status/{p}-1#{n}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": p,
                "statusListIndex": str(n),
                "statusListCredential": f"https://kl.nagara.example/credentials/status/{p}-1",
            }
            for p in ("revocation", "suspension")
        ],
    }


def document(vc: dict[str, Any]) -> dict[str, Any]:
    s = vc["credentialSubject"]
    return {
        "lang": "ml",
        "number": s["registrationNumber"],
        "edition": 1,
        "output_type": s["certificateType"],
        "title": s["title"],
        "statement": s["statement"],
        "number_label": {"ml": "രജിസ്ട്രേഷൻ നമ്പർ", "en": "Registration number"},
        "legal_basis": None,
        "note": None,
        "record": [{**f, "text": f["value"]} for f in s["record"]],
        "signatory": s["signatory"],
        "seal": {"ml": "രജിസ്ട്രാറുടെ മുദ്ര", "en": "Seal of the Registrar"},
        "body_name": s["localName"],
        "state_name": {"ml": "കേരളം", "en": "Kerala"},
        "issued_on": "01-12-2026",
        "valid_until": None,
        "application_number": s["applicationNumber"],
        "credential_id": vc["id"],
        "issuer": DID,
        "verify_url": "https://kl.nagara.example/verify",
    }


def rate(label: str, seconds: float, step: Any) -> float:
    step(0)  # warm caches (contexts, fonts)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        n += 1
        step(n)
    per_second = n / (time.perf_counter() - started)
    print(f"{label:<48} {per_second:>10.1f} /s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    seconds = parser.parse_args().seconds
    now = datetime.now(UTC)
    vc = credential(1)
    signed = dataintegrity.sign(vc, KEY, VM, created=now)
    data = dataintegrity.hash_data(signed, signed["proof"])
    signature = KEY.sign(data)
    public = KEY.public_key()
    trust = verify.Trust({VM: public})

    print("reference: raw Ed25519 of the same 64-byte hash input")
    raw_sign = rate("  Ed25519 sign", seconds, lambda _n: KEY.sign(data))
    raw_verify = rate("  Ed25519 verify", seconds, lambda _n: public.verify(signature, data))
    print("certificates")
    issue_vc = rate(
        "  sign credential (eddsa-rdfc-2022)", seconds, lambda n: dataintegrity.sign(credential(n), KEY, VM, created=now)
    )

    def issue_with_pdf(n: int) -> None:
        cred = dataintegrity.sign(credential(n), KEY, VM, created=now)
        token = compact.sign({"n": n, "jti": cred["id"]}, KEY, VM)
        render.render_pdf(document(cred), cred, render.qr_content("https://kl.nagara.example/verify", token))

    issued = rate("  issue: sign + compact form + PDF", seconds, issue_with_pdf)
    verified = rate("  verify credential (proof + dates)", seconds, lambda _n: verify.verify_credential(signed, trust, None))
    token = compact.sign({"v": 1, "n": 1, "iss": DID, "jti": signed["id"]}, KEY, "#" + public_multikey(KEY.public_key()))
    assert verify.verify_compact_form(token, trust).verified
    qr = rate("  verify QR compact form", seconds, lambda _n: verify.verify_compact_form(token, trust))
    print(
        f"issue is {raw_sign / issued:,.0f}x slower than a raw signature (credential alone {raw_sign / issue_vc:,.0f}x); "
        f"credential verification {raw_verify / verified:,.0f}x, QR {raw_verify / qr:,.1f}x slower than raw verify"
    )


if __name__ == "__main__":
    main()
