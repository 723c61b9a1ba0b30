"""The administrator's exchange pages: the members, and one member's keys, traffic and refusals, in each language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nagara.exchange import service
from nagara.runtime import Runtime
from tests.conftest import People
from tests.exchange.helpers import PEER, new_peer, register, signed
from tests.officer.helpers import sign_in


def test_members_and_a_members_traffic(client: TestClient, runtime: Runtime, people: People) -> None:
    peer = new_peer()
    register(runtime, peer, services=("certificate-verify",))
    with runtime.db.unit_of_work() as s:
        service.rotate_own_key(s)
    path, body, headers = signed(peer, "certificate-verify", {"purpose": "service-application", "number": "KL-NONE-1"})
    assert client.post(path, content=body, headers=headers).status_code == 200
    assert client.post(path, content=body, headers=headers).status_code == 409  # a replay: counted, not kept

    sign_in(client, people, "kl_admin")
    listed = client.get("/officer/admin/exchange")
    assert listed.status_code == 200 and PEER in listed.text and "certificate-verify" in listed.text
    assert "/officer/admin/exchange" in client.get("/officer/admin").text
    page = client.get(f"/officer/admin/exchange/{PEER}")
    assert page.status_code == 200
    assert peer.key_id in page.text and "Served" in page.text and "exchange-replay" in page.text
    malayalam = client.get(f"/officer/admin/exchange/{PEER}", headers={"Accept-Language": "ml"})
    assert "വിവര കൈമാറ്റ അംഗങ്ങൾ" in malayalam.text and "Served" not in malayalam.text

    client.cookies.clear()
    sign_in(client, people, "a_secretary")  # no exchange:member:manage
    assert client.get("/officer/admin/exchange").status_code == 403
    assert client.get(f"/officer/admin/exchange/{PEER}").status_code == 403
