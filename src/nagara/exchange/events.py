"""What the exchange announces: a citizen's consent to sharing given or withdrawn.

The privacy domain keeps each as a signed consent artefact on the ledger (``domains.wire``);
the exchange imports nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nagara.exchange.models import Consent
from nagara.worker.events import Event


@dataclass(frozen=True, kw_only=True)
class ConsentGranted(Event):
    consent: Consent
    member: str  # the member's identifier, whom the record goes to


@dataclass(frozen=True, kw_only=True)
class ConsentWithdrawn(Event):
    consent: Consent
