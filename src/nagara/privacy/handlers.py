"""Consents other domains take, kept as signed consent artefacts (``domains.wire`` subscribes these)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from nagara.exchange import service as exchange
from nagara.exchange.events import ConsentGranted, ConsentWithdrawn
from nagara.kit.access import Principal
from nagara.privacy import consent

EXCHANGE = "exchange"

# What each exchange service hands over, as the artefact's data items.
EXCHANGE_ITEMS = {
    "certificate-credential": ["the certificate named, as a verifiable credential"],
    "property-tax-clearance": ["whether property tax is paid on the property named"],
    "move-home": ["your certificates", "your properties and their demands"],
}


def on_exchange_consent(session: Session, event: ConsentGranted) -> None:
    """A citizen let a member call an exchange service about their record: the artefact, signed, on the ledger."""
    given = event.consent
    consent.record(
        session,
        principal_id=given.citizen_id,
        fiduciary=given.state_code,
        purpose="exchange.share",
        via="api",
        valid_until=given.expires_at,
        recipient=event.member,
        data_items=[f"{item} ({given.resource})" for item in EXCHANGE_ITEMS.get(given.service, [given.service])],
        source=f"{EXCHANGE}:{given.id}",
    )


def on_exchange_withdrawn(session: Session, event: ConsentWithdrawn) -> None:
    """Withdrawn at the exchange: the artefact's withdrawal, signed, on the ledger."""
    consent.withdraw_source(session, f"{EXCHANGE}:{event.consent.id}", via="api")


def withdraw_exchange_consent(session: Session, principal: Principal, consent_id: str) -> None:
    """Withdrawn on the citizen's consents page: the exchange refuses the member from now on."""
    exchange.withdraw_consent(session, principal, consent_id)
