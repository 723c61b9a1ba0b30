"""An independent implementation (Digital Bazaar's @digitalbazaar/vc with eddsa-rdfc-2022) accepts our credentials
and rejects each one with any single field changed; our verifier agrees on every one."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from nagara.certificates import verify
from tests.certificates.helpers import approved_birth, credential, digital_bazaar_verify
from tests.conftest import People


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _leaves(inner, (*path, i))
    else:
        yield path


def _changed(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    old = target[path[-1]]
    target[path[-1]] = (
        old + 1 if isinstance(old, int) and not isinstance(old, bool) else f"{old}x" if old[-1] != "x" else old[:-1] + "y"
    )
    return out


def test_digital_bazaar_accepts_ours_and_rejects_every_change(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people, child_name="ആൻ മേരി")
    vc = credential(client, people, "citizen1", app["number"])
    did = client.get("/.well-known/did.json").json()
    status_list = client.get("/" + vc["credentialStatus"][0]["statusListCredential"].split("://", 1)[1].split("/", 1)[1]).json()
    paths = [p for p in _leaves(vc) if p != ("proof", "proofValue")] + [("proof", "proofValue")]
    changed = [_changed(vc, p) for p in paths]
    assert len(changed) > 40
    results = digital_bazaar_verify([vc, status_list, *changed], did, tmp_path)
    assert results[0] == {"verified": True, "error": None}
    assert results[1] == {"verified": True, "error": None}  # the status list credential, signed the same way
    accepted = [paths[i] for i, r in enumerate(results[2:]) if r["verified"]]
    assert accepted == [], f"Digital Bazaar accepted changes at {accepted}"
    trust = verify.Trust()
    trust.add_did_document(did)
    assert verify.verify_credential(vc, trust, None).verified
    ours = [paths[i] for i, c in enumerate(changed) if verify.verify_credential(c, trust, None).verified]
    assert ours == [], f"our verifier accepted changes at {ours}"
