"""Twenty requests at once against a running server: every filing gets its own number, gapless;
every "me too" is counted once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select

from nagara.grievances.models import Grievance
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.tenancy.models import LocalBody
from tests.browser import LiveServer
from tests.conftest import make_citizen

N = 20


def test_twenty_filings_and_twenty_me_toos_at_once(live_server: LiveServer) -> None:
    with live_server.runtime.db.unit_of_work() as s:
        body = str(s.scalar(select(LocalBody.code).where(LocalBody.state_code == "ka").order_by(LocalBody.code).limit(1)))
        tokens = []
        for i in range(N):
            citizen = make_citizen(s, live_server.runtime, "ka", f"98450{i:05d}")
            tokens.append(identity.issue_token(s, s.get(User, citizen.id), "bearer"))  # type: ignore[arg-type]
    body_json = {
        "category": "streetlight",
        "description": "Lights off on the main road.",
        "address": "Main road",
        "attributes": {"problem": "off-at-night"},
    }

    def file(token: str) -> requests.Response:
        return requests.post(
            f"{live_server.url}/api/v1/tenants/{body}/grievances",
            json=body_json,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    with ThreadPoolExecutor(N) as pool:
        filed = list(pool.map(file, tokens))
    assert [r.status_code for r in filed] == [201] * N, [r.text for r in filed if r.status_code != 201][:2]
    numbers = sorted(r.json()["number"] for r in filed)
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert len(set(numbers)) == N and serials == list(range(serials[0], serials[0] + N))

    target = numbers[0]
    owner = next(t for t, r in zip(tokens, filed, strict=True) if r.json()["number"] == target)

    def support(token: str) -> requests.Response:
        return requests.post(
            f"{live_server.url}/api/v1/grievances/{target}/me-too", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    with ThreadPoolExecutor(N) as pool:
        supported = list(pool.map(support, [*tokens, tokens[1]]))
    codes = sorted(r.status_code for r in supported)
    assert codes.count(200) == N - 1 and codes.count(409) == 2, codes  # the owner, and one who said it twice
    assert next(r for r, t in zip(supported, [*tokens, tokens[1]], strict=True) if t == owner).status_code == 409
    with live_server.runtime.db.unit_of_work(readonly=True) as s:
        assert s.scalar(select(Grievance.supporters).where(Grievance.number == target)) == N - 1
