"""The citizen's filing form takes a point (latitude and longitude) as the location: a finite number in
range, both or neither, inside the state; each refusal is said in the citizen's language and stores nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.grievances.models import Grievance
from tests.conftest import People
from tests.grievances.helpers import AT_SEA, POINTS
from tests.officer.helpers import csrf_of, sign_in

NUMBER = "ദശാംശ ഡിഗ്രിയിൽ ഒരു സംഖ്യ എഴുതുക"
BOTH = "അക്ഷാംശവും രേഖാംശവും രണ്ടും നൽകുക, അല്ലെങ്കിൽ ഒന്നും നൽകരുത്."
OUTSIDE = "ആ സ്ഥാനം സംസ്ഥാനത്തിന് പുറത്താണ്"


def _count(people: People) -> int:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(Grievance)) or 0)


def test_a_point_is_the_location_and_a_bad_one_is_refused_in_the_citizens_language(
    client: TestClient, people: People
) -> None:
    sign_in(client, people, "citizen1")
    client.cookies.set("nagara_lang", "ml")
    url = f"/grievances/{people.body_a}/new/waste-not-collected"
    form = client.get(url)
    assert form.status_code == 200
    assert 'name="lat"' in form.text and 'name="lon"' in form.text and "അക്ഷാംശം" in form.text and "രേഖാംശം" in form.text
    base = {"csrf_token": csrf_of(form.text), "description": "Waste by the canal", "attr-waste_kind": "household"}

    lat, lon = POINTS["kl"]
    refused = [
        ({"lat": "north", "lon": str(lon)}, "lat", NUMBER),
        ({"lat": "nan", "lon": str(lon)}, "lat", NUMBER),
        ({"lat": str(lat), "lon": "inf"}, "lon", NUMBER),
        ({"lat": "1e400", "lon": str(lon)}, "lat", NUMBER),  # too large for a float: infinity
        ({"lat": "95", "lon": str(lon)}, "lat", NUMBER),
        ({"lat": str(lat), "lon": "-181"}, "lon", NUMBER),
        ({"lat": str(lat)}, "lon", BOTH),
        ({"lat": str(AT_SEA[0]), "lon": str(AT_SEA[1])}, "lat", OUTSIDE),
    ]
    for given, field, message in refused:
        answer = client.post(url, data={**base, **given})
        assert answer.status_code == 422, (given, answer.text[:300])
        assert message in answer.text, given
        assert f'id="f-{field}"' in answer.text and 'class="field has-error"' in answer.text, given
        assert f'value="{given.get(field, "")}"' in answer.text or field not in given, given  # what was typed stays
    nowhere = client.post(url, data=base)  # the category needs a location: no ward, address or point
    assert nowhere.status_code == 422
    assert _count(people) == 0

    filed = client.post(url, data={**base, "lat": f" {lat} ", "lon": str(lon)}, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    with people.runtime.db.unit_of_work(readonly=True) as s:
        g = s.scalar(select(Grievance))
        assert g is not None and (g.lat, g.lon, g.address, g.ward_code) == (lat, lon, None, None)
