"""Open311 GeoReport v2 against a running server: the ``georeport`` client from PyPI reads the
services, a definition, the request list and one request; a partner app posts a request the way
the spec describes and reads it back by token and by id, in XML and JSON; errors in the spec's format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import requests
from georeport import GeoReport
from sqlalchemy import func, select

from nagara.grievances.models import Grievance
from nagara.identity import service as identity
from nagara.tenancy.models import LocalBody
from tests.browser import LiveServer
from tests.grievances.helpers import AT_SEA, POINTS

REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description", "agency_responsible",
    "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
    "lat", "long", "media_url",
}  # fmt: skip


def _partner(live_server: LiveServer, name: str) -> tuple[str, str]:
    with live_server.runtime.db.unit_of_work() as s:
        body = str(s.scalar(select(LocalBody.code).where(LocalBody.state_code == "kl").order_by(LocalBody.code).limit(1)))
        _user, key = identity.create_partner(
            s, state_code="kl", username=name, name="City app", role="grievance_partner", place=identity.Place("kl", None)
        )
    return body, key


def _post(live_server: LiveServer, fmt: str, fields: dict[str, Any]) -> requests.Response:
    return requests.post(f"{live_server.url}/open311/v2/requests.{fmt}", data=fields, timeout=30)


def _count(live_server: LiveServer) -> int:
    with live_server.runtime.db.unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(Grievance)) or 0)


def test_the_georeport_client_reads_and_a_partner_posts(live_server: LiveServer) -> None:
    body, key = _partner(live_server, "open311.app.one")
    fields = {
        "api_key": key,
        "jurisdiction_id": body,
        "service_code": "streetlight",
        "lat": str(POINTS["kl"][0]),
        "long": str(POINTS["kl"][1]),
        "address_string": "Statue junction",
        "description": "Three lights off on the east side.",
        "attribute[problem]": "off-at-night",
        "attribute[pole_number]": "TVM-1123",
        "email": "someone@example.com",
        "first_name": "Asha",
    }
    posted = _post(live_server, "xml", fields)
    assert posted.status_code == 201, posted.text
    root = ET.fromstring(posted.content)
    assert root.tag == "service_requests" and root[0].tag == "request"
    number, token = root.findtext("request/service_request_id"), root.findtext("request/token")
    assert number and token

    by_token = requests.get(f"{live_server.url}/open311/v2/tokens/{token}.json", timeout=30).json()
    assert by_token == [{"service_request_id": number, "token": token}]
    token_xml = ET.fromstring(requests.get(f"{live_server.url}/open311/v2/tokens/{token}.xml", timeout=30).content)
    assert token_xml.findtext("request/service_request_id") == number

    client = GeoReport(f"{live_server.url}/open311/v2", jurisdiction=body)
    services = client.get_service_list()
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(services[0])
    assert "streetlight" in [s["service_code"] for s in services]
    definition = client.get_service_definition("streetlight")
    assert definition["service_code"] == "streetlight"
    assert {a["code"] for a in definition["attributes"]} == {"pole_number", "problem"}
    listed = client.get_service_requests(service_code="streetlight,waste-not-collected", status="open")
    assert number in [r["service_request_id"] for r in listed]
    one = client.get_service_request(number)
    assert set(one) == REQUEST_FIELDS
    assert (one["status"], one["service_code"], one["address"]) == ("open", "streetlight", "Statue junction")
    assert one["expected_datetime"] and body not in one["agency_responsible"]
    assert "Asha" not in str(one) and "example.com" not in str(one)

    xml_client = GeoReport(f"{live_server.url}/open311/v2", jurisdiction=body, output_format="xml")
    assert "streetlight" in [s["service_code"] for s in xml_client.get_service_list()]
    xml_one = ET.fromstring(
        requests.get(f"{live_server.url}/open311/v2/requests/{number}.xml", params={"jurisdiction_id": body}, timeout=30).content
    )
    assert xml_one.tag == "service_requests" and {e.tag for e in xml_one.find("request")} == REQUEST_FIELDS  # type: ignore[union-attr]
    definition_xml = ET.fromstring(
        requests.get(
            f"{live_server.url}/open311/v2/services/streetlight.xml", params={"jurisdiction_id": body}, timeout=30
        ).content
    )
    assert definition_xml.tag == "service_definition"
    assert {e.tag for e in definition_xml.find("attributes/attribute")} >= {
        "variable",
        "code",
        "datatype",
        "required",
        "order",
        "description",
    }  # type: ignore[union-attr]
    discovery = ET.fromstring(requests.get(f"{live_server.url}/open311/v2/discovery.xml", timeout=30).content)
    assert discovery.tag == "discovery" and discovery.findtext("endpoints/endpoint/specification")


def test_bad_requests_get_the_specs_errors_and_store_nothing(live_server: LiveServer) -> None:
    body, key = _partner(live_server, "open311.app.two")
    good = {
        "api_key": key,
        "jurisdiction_id": body,
        "service_code": "waste-not-collected",
        "address_string": "Market road",
        "description": "Not collected.",
        "attribute[waste_kind]": "household",
    }
    before = _count(live_server)
    cases = [
        ({"service_code": "no-such-service"}, 404),
        ({"address_string": ""}, 400),
        ({"address_string": "", "lat": str(AT_SEA[0]), "long": str(AT_SEA[1])}, 400),
        ({"attribute[waste_kind]": "nuclear"}, 400),
        ({"description": "x" * 4001}, 400),
        ({"api_key": "not-a-key"}, 403),
        ({"api_key": ""}, 400),
        ({"lat": "nan", "long": "1"}, 400),
    ]
    for changes, status in cases:
        for fmt in ("json", "xml"):
            response = _post(live_server, fmt, {**good, **changes})
            assert response.status_code == status, (changes, fmt, response.text)
            if fmt == "json":
                errors = response.json()
                assert errors and {"code", "description"} == set(errors[0]) and errors[0]["code"] == status
            else:
                root = ET.fromstring(response.content)
                assert root.tag == "errors" and root.findtext("error/code") == str(status) and root.findtext("error/description")
    assert _count(live_server) == before
    unknown = requests.get(f"{live_server.url}/open311/v2/requests/NOPE.json", params={"jurisdiction_id": body}, timeout=30)
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404
    no_jurisdiction = requests.get(f"{live_server.url}/open311/v2/services.xml", timeout=30)
    assert no_jurisdiction.status_code == 400 and ET.fromstring(no_jurisdiction.content).tag == "errors"
    too_long = requests.get(
        f"{live_server.url}/open311/v2/requests.json",
        params={"jurisdiction_id": body, "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        timeout=30,
    )
    assert too_long.status_code == 400 and "90 days" in too_long.text


def test_private_grievances_never_appear(live_server: LiveServer) -> None:
    body, key = _partner(live_server, "open311.app.three")
    fields = {
        "api_key": key, "jurisdiction_id": body, "service_code": "staff-behaviour", "description": "Rude clerk.",
        "attribute[office]": "Front office", "attribute[on]": "2026-12-01", "phone": "9847011111",
    }  # fmt: skip
    posted = requests.post(f"{live_server.url}/open311/v2/requests.json", data=fields, timeout=30)
    assert posted.status_code == 201, posted.text
    number, token = posted.json()[0]["service_request_id"], posted.json()[0]["token"]
    listed = requests.get(f"{live_server.url}/open311/v2/requests.json", params={"jurisdiction_id": body}, timeout=30)
    assert number not in listed.text and "9847011111" not in listed.text
    one = requests.get(f"{live_server.url}/open311/v2/requests/{number}.json", params={"jurisdiction_id": body}, timeout=30)
    assert one.status_code == 404
    assert requests.get(f"{live_server.url}/open311/v2/tokens/{token}.json", timeout=30).status_code == 404
