"""The grievances API: filing, tracking, acting, "me too", the public view; bad input refused with
problem+json and nothing stored; officers of another body and other citizens see nothing private."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from nagara.grievances.models import Grievance
from tests.conftest import People
from tests.grievances.helpers import AT_SEA, POINTS, jpeg_with_gps

WASTE = {"waste_kind": "household"}


def _file(client: TestClient, people: People, who: str = "citizen1", **changes: Any) -> Any:
    body = {
        "category": "waste-not-collected",
        "description": "Waste not collected for a week near the market.",
        "address": "Market road",
        "lat": POINTS["kl"][0],
        "lon": POINTS["kl"][1],
        "attributes": WASTE,
    }
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    return client.post(f"/api/v1/tenants/{people.body_a}/grievances", json=body, headers=people.headers(who))


def _count(people: People) -> int:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(Grievance)) or 0)


def test_a_citizen_files_tracks_and_the_officer_resolves_with_a_photo(client: TestClient, people: People) -> None:
    filed = _file(client, people)
    assert filed.status_code == 201, filed.text
    g = filed.json()
    assert (g["state"], g["level"], g["assigned_role"], g["status"]) == ("assigned", 1, "officer", "open")
    assert [s["action"] for s in g["history"]] == ["file", "assign"]
    number = g["number"]

    officer = people.headers("a_officer")
    got = client.get(f"/api/v1/grievances/{number}", headers=officer)
    assert got.status_code == 200 and "resolve" in got.json()["allowed_actions"]
    inbox = client.get("/api/v1/grievances", headers=officer).json()
    assert number in [i["number"] for i in inbox]

    no_photo = client.post(
        f"/api/v1/grievances/{number}/actions",
        json={"action": "resolve", "version": g["version"], "comment": "Done"},
        headers=officer,
    )
    assert no_photo.status_code == 422 and "photo" in no_photo.text
    resolved = client.post(
        f"/api/v1/grievances/{number}/resolution",
        data={"version": str(g["version"]), "comment": "Collected and the spot cleaned."},
        files={"photo": ("after.jpg", jpeg_with_gps((1200, 900)), "image/jpeg")},
        headers=officer,
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    rated = client.post(
        f"/api/v1/grievances/{number}/actions",
        json={"action": "rate", "version": resolved.json()["version"], "rating": 4, "comment": "Quick"},
        headers=people.headers("citizen1"),
    )
    assert rated.status_code == 200 and rated.json()["state"] == "closed" and rated.json()["rating"] == 4


def test_bad_input_is_refused_and_nothing_is_stored(client: TestClient, people: People) -> None:
    before = _count(people)
    cases = [
        ({"category": "no-such-thing"}, 404, "no grievance category"),
        ({"address": None, "lat": None, "lon": None}, 422, "needs a location"),
        ({"lat": AT_SEA[0], "lon": AT_SEA[1]}, 422, "outside the state"),
        ({"attributes": {"waste_kind": "nuclear"}}, 422, "expected one of"),
        ({"attributes": {}}, 422, "waste_kind is required"),
        ({"attributes": {**WASTE, "colour": "red"}}, 422, "not an attribute"),
        ({"description": "x" * 4001}, 422, "4000"),
        ({"description": "bad \u0000 byte"}, 422, ""),
        ({"ward": 99999}, 422, ""),
    ]
    for changes, status, text in cases:
        response = _file(client, people, **changes)
        assert response.status_code == status, (changes, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert text in response.text, (changes, response.text)
    assert _count(people) == before


def test_photos_are_checked_and_served_without_exif(client: TestClient, people: People) -> None:
    number = _file(client, people).json()["number"]
    h = people.headers("citizen1")
    not_image = client.post(
        f"/api/v1/grievances/{number}/photos", files={"photo": ("a.jpg", b"%PDF-1.4 not a photo" * 10, "image/jpeg")}, headers=h
    )
    assert not_image.status_code == 422 and "allowed" in not_image.text
    big = b"\xff\xd8\xff\xe0" + b"\0" * (5 * 1024 * 1024 + 10)
    too_big = client.post(f"/api/v1/grievances/{number}/photos", files={"photo": ("a.jpg", big, "image/jpeg")}, headers=h)
    assert too_big.status_code == 422 and "at most 5,242,880 bytes" in too_big.text, too_big.text[:300]
    original = jpeg_with_gps()
    assert b"PhoneMaker" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    added = client.post(f"/api/v1/grievances/{number}/photos", files={"photo": ("a.jpg", original, "image/jpeg")}, headers=h)
    assert added.status_code == 201, added.text
    listed = client.get(
        "/open311/v2/requests.json", params={"jurisdiction_id": people.body_a, "service_request_id": number}
    ).json()
    url = listed[0]["media_url"]
    served = client.get(url.replace("https://testserver", ""))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (64, 48)
    assert not image.getexif() and b"PhoneMaker" not in served.content and b"Exif" not in served.content


def test_me_too_and_the_public_view_show_no_personal_data(client: TestClient, people: People) -> None:
    public = _file(client, people).json()
    private = _file(
        client,
        people,
        category="staff-behaviour",
        description="The clerk asked for money.",
        attributes={"office": "Front office", "on": "2026-12-01"},
    ).json()
    assert private["public"] is False
    similar = client.get(
        f"/api/v1/local-bodies/{people.body_a}/public-grievances", params={"category": "waste-not-collected", "status": "open"}
    )
    assert similar.status_code == 200
    numbers = [g["number"] for g in similar.json()]
    assert public["number"] in numbers and private["number"] not in numbers
    text = client.get(f"/api/v1/local-bodies/{people.body_a}/public-grievances").text
    assert private["number"] not in text and people.users["citizen1"].id not in text and "9847000001" not in text
    assert client.get(f"/api/v1/public-grievances/{private['number']}").status_code == 404

    h2 = people.headers("citizen2")
    assert client.get(f"/api/v1/grievances/{private['number']}", headers=h2).status_code == 404
    assert client.get(f"/api/v1/grievances/{public['number']}", headers=h2).status_code == 404  # the full record is the filer's
    me = client.post(f"/api/v1/grievances/{public['number']}/me-too", headers=h2)
    assert me.status_code == 200 and me.json()["supporters"] == 1
    assert client.post(f"/api/v1/grievances/{public['number']}/me-too", headers=h2).status_code == 409
    assert client.post(f"/api/v1/grievances/{private['number']}/me-too", headers=h2).status_code == 404


def test_another_bodys_officer_cannot_see_or_act(client: TestClient, people: People) -> None:
    g = _file(client, people).json()
    other = people.headers("b_secretary")
    assert client.get(f"/api/v1/grievances/{g['number']}", headers=other).status_code == 404
    acted = client.post(
        f"/api/v1/grievances/{g['number']}/actions", json={"action": "start", "version": g["version"]}, headers=other
    )
    assert acted.status_code == 404
    assert g["number"] not in client.get("/api/v1/grievances", headers=other).text
    assert client.get(f"/api/v1/grievances/{g['number']}", headers=people.headers("ka_secretary")).status_code == 404
