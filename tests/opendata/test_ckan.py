"""The open data portal read as existing tools read CKAN portals: the ``ckanapi`` client against a
running server, Frictionless validating every data package and its CSV, rdflib reading DCAT."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import ckanapi
import frictionless
import httpx
import pytest
import rdflib
from pyld import jsonld
from rdflib.namespace import DCAT, DCTERMS, RDF
from sqlalchemy import delete, insert

from nagara.analytics import rollups
from nagara.analytics.models import Count
from nagara.kit.db import utcnow
from tests.browser import LiveServer

SERVICE = "opendata-test-service"
BODY, DISTRICT = "kl.tvm-corp", "kl.tvm"


def _yesterday() -> date:
    return (utcnow() + timedelta(hours=5, minutes=30)).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def portal(live_server: LiveServer) -> Iterator[LiveServer]:
    """45 days of counts for one service of one body: received 7 a day, decided 1 to 9 (some under 5)."""
    end = _yesterday()
    rows: list[dict[str, Any]] = []
    for i in range(45):
        day = end - timedelta(days=i)
        for measure, value in ((rollups.RECEIVED, 7), (rollups.DECIDED + "approved", 1 + i % 9), (rollups.WITHIN, 8 if i == 3 else 0)):
            if value:
                rows.append(
                    {
                        "local_body_code": BODY,
                        "day": day,
                        "ward_code": "",
                        "subject": SERVICE,
                        "channel": "online",
                        "measure": measure,
                        "bucket": 0,
                        "state_code": "kl",
                        "district_code": DISTRICT,
                        "value": value,
                    }
                )
    with live_server.runtime.db.unit_of_work() as s:
        s.execute(insert(Count), rows)
    yield live_server
    with live_server.runtime.db.unit_of_work() as s:
        s.execute(delete(Count).where(Count.subject == SERVICE))


@pytest.mark.parametrize("prefix", ["/api/3/action/", "/api/action/"])
def test_ckanapi_lists_searches_and_shows(portal: LiveServer, prefix: str) -> None:
    with ckanapi.RemoteCKAN(portal.url, user_agent="nagara-tests") as ckan:
        ckan.base_url = prefix.lstrip("/")  # ckanapi joins address and base_url
        names = ckan.action.package_list()
        assert "kl-service-levels-daily" in names and "kl-service-catalogue" in names
        found = ckan.action.package_search(q="service levels", fq="organization:kl", rows=1, **{"facet.field": '["organization","tags"]'})
        assert found["count"] >= 1 and len(found["results"]) == 1
        assert found["search_facets"]["organization"]["items"][0]["name"] == "kl"
        pages, start = [], 0
        while True:
            page = ckan.action.package_search(rows=2, start=start, sort="name asc")
            pages += [p["name"] for p in page["results"]]
            start += 2
            if start >= page["count"]:
                break
        assert pages == sorted(names)
        package = ckan.action.package_show(id="kl-service-levels-daily")
        assert package["license_id"] == "GODL-India"
        assert package["organization"]["name"] == "kl"
        resource = ckan.action.resource_show(id=package["resources"][0]["id"])
        assert resource["url"].endswith(".csv")
        assert ckan.action.organization_show(id=BODY)["name"] == BODY
        assert BODY in ckan.action.organization_list()
        assert "service-delivery" in ckan.action.group_list()
        assert ckan.action.status_show()["ckan_version"].startswith("2.")
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="no-such-dataset")
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.datastore_search_sql(sql="SELECT 1")


def test_datastore_search_page_by_page_to_the_end_with_small_counts_suppressed(portal: LiveServer) -> None:
    with ckanapi.RemoteCKAN(portal.url, get_only=True) as ckan:
        records, offset, total = [], 0, None
        while True:
            page = ckan.action.datastore_search(
                resource_id="kl-service-levels-daily", filters=json.dumps({"service": SERVICE}), limit=7, offset=offset, sort="date desc"
            )
            total = page["total"]
            records += page["records"]
            offset += 7
            if offset >= total:
                break
    assert total == 45 == len(records)
    assert [r["date"] for r in records] == sorted((r["date"] for r in records), reverse=True)
    assert records[0]["date"] == _yesterday().isoformat()
    for r in records:
        assert r["received"] == 7
        assert r["decided"] == "< 5" or r["decided"] >= 5
        assert r["decided_within_limit"] in (0, "< 5") or r["decided_within_limit"] >= 5
    # The one month whose single within-limit day (8) stands alone next to zeros stays shown: no small cell to hide.
    within = [r for r in records if r["decided_within_limit"] != 0]
    assert within and within[0]["decided_within_limit"] == 8
    chosen = httpx.get(
        f"{portal.url}/api/3/action/datastore_search",
        params={"resource_id": "kl-service-levels-daily", "fields": "date,received", "q": "opendata-test", "limit": 3},
    ).json()["result"]
    assert [f["id"] for f in chosen["fields"]] == ["date", "received"] and set(chosen["records"][0]) == {"date", "received"}


def test_every_published_data_package_validates(portal: LiveServer) -> None:
    names = httpx.get(f"{portal.url}/api/3/action/package_list").json()["result"]
    for name in names:
        report = frictionless.validate(f"{portal.url}/opendata/{name}/datapackage.json")
        assert report.valid, (name, report.flatten(["rowNumber", "fieldName", "type", "note"]))
    text = httpx.get(f"{portal.url}/opendata/kl-service-levels-daily/kl-service-levels-daily.csv").content.decode("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["service"] == SERVICE]
    assert len(rows) == 45
    assert {r["decided"] for r in rows} >= {"< 5"} and not {"1", "2", "3", "4"} & {r["decided"] for r in rows}


def test_errors_keep_the_ckan_envelope(portal: LiveServer) -> None:
    bad = httpx.get(f"{portal.url}/api/3/action/datastore_search", params={"resource_id": "kl-service-levels-daily", "limit": "x"})
    assert bad.status_code == 409
    body = bad.json()
    assert body["success"] is False and body["error"]["__type"] == "Validation Error" and "limit" in body["error"]
    unknown = httpx.get(f"{portal.url}/api/3/action/datastore_search", params={"resource_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["__type"] == "Not Found Error"
    nul = httpx.get(f"{portal.url}/api/3/action/package_search", params={"q": "a\x00b"})
    assert nul.status_code in (400, 409, 422)  # the edge refuses a NUL before the action sees it
    huge = httpx.get(f"{portal.url}/api/3/action/package_search", params={"rows": str(2**70)})
    assert huge.status_code == 409
    capped = httpx.get(f"{portal.url}/api/3/action/datastore_search", params={"resource_id": "kl-service-catalogue", "limit": "5000"})
    assert capped.json()["result"]["limit"] == 1000
    sort = httpx.get(f"{portal.url}/api/3/action/datastore_search", params={"resource_id": "kl-service-catalogue", "sort": "secret asc"})
    assert sort.status_code == 409
    action = httpx.get(f"{portal.url}/api/3/action/package_delete")
    assert action.status_code == 400 and action.json()["success"] is False


def test_dcat_parses_and_names_the_key_classes(portal: LiveServer) -> None:
    for suffix, kind in (("ttl", "turtle"), ("jsonld", "json-ld")):
        response = httpx.get(f"{portal.url}/catalog.{suffix}")
        assert response.status_code == 200
        if kind == "json-ld":  # rdflib's own JSON-LD reader warns of its deprecated parts: expand with pyld
            graph = rdflib.Graph().parse(data=jsonld.to_rdf(response.json(), {"format": "application/n-quads"}), format="nt")
        else:
            graph = rdflib.Graph().parse(data=response.text, format=kind)
        catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
        assert len(catalogs) == 1
        datasets = set(graph.objects(catalogs[0], DCAT.dataset))
        assert datasets and all((d, RDF.type, DCAT.Dataset) in graph for d in datasets)
        for d in datasets:
            assert graph.value(d, DCTERMS.title) is not None
            assert graph.value(d, DCTERMS.publisher) is not None
            distributions = list(graph.objects(d, DCAT.distribution))
            assert distributions
            for dist in distributions:
                assert (dist, RDF.type, DCAT.Distribution) in graph
                assert graph.value(dist, DCAT.accessURL) is not None
                assert graph.value(dist, DCTERMS.license) is not None
    one = httpx.get(f"{portal.url}/opendata/kl-service-catalogue.ttl")
    assert one.status_code == 200
    assert len(list(rdflib.Graph().parse(data=one.text, format="turtle").subjects(RDF.type, DCAT.Dataset))) == 1
