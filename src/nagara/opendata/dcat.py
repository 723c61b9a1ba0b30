"""The open data catalogue as DCAT-AP 3, for national portals to harvest: ``/catalog.jsonld`` and
``/catalog.ttl``, and each dataset at ``/opendata/<name>.jsonld`` and ``.ttl``.

The JSON-LD carries its context inline (nothing is fetched to read it); Turtle is the same
graph written by rdflib.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from nagara.identity.deps import DbSession
from nagara.kit.errors import NotFound
from nagara.opendata import datasets as ds
from nagara.opendata.api import _base, refreshed_at

router = APIRouter(include_in_schema=False)

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "title": {"@id": "dct:title", "@language": "en"},
    "description": {"@id": "dct:description", "@language": "en"},
    "publisher": {"@id": "dct:publisher", "@type": "@id"},
    "license": {"@id": "dct:license", "@type": "@id"},
    "modified": {"@id": "dct:modified", "@type": "xsd:dateTime"},
    "identifier": "dct:identifier",
    "keyword": {"@id": "dcat:keyword", "@language": "en"},
    "theme": {"@id": "dcat:theme", "@type": "@id"},
    "dataset": {"@id": "dcat:dataset", "@type": "@id"},
    "distribution": {"@id": "dcat:distribution", "@type": "@id"},
    "accessURL": {"@id": "dcat:accessURL", "@type": "@id"},
    "downloadURL": {"@id": "dcat:downloadURL", "@type": "@id"},
    "mediaType": {"@id": "dcat:mediaType", "@type": "@id"},
    "conformsTo": {"@id": "dct:conformsTo", "@type": "@id"},
    "homepage": {"@id": "foaf:homepage", "@type": "@id"},
    "name": "foaf:name",
    "contactPoint": {"@id": "dcat:contactPoint", "@type": "@id"},
    "accrualPeriodicity": {"@id": "dct:accrualPeriodicity", "@type": "@id"},
}
DAILY = "http://publications.europa.eu/resource/authority/frequency/DAILY"
CSV = "https://www.iana.org/assignments/media-types/text/csv"
JSON_TYPE = "https://www.iana.org/assignments/media-types/application/json"


def _dataset(request: Request, d: ds.Dataset, modified: str) -> dict[str, Any]:
    base = _base(request)
    distributions = []
    for res in d.resources:
        for suffix, media in (("csv", CSV), ("json", JSON_TYPE)):
            url = f"{base}/opendata/{d.name}/{res.id}.{suffix}"
            distributions.append(
                {
                    "@id": url,
                    "@type": "dcat:Distribution",
                    "title": f"{res.name} ({suffix.upper()})",
                    "accessURL": f"{base}/api/3/action/datastore_search?resource_id={res.id}",
                    "downloadURL": url,
                    "mediaType": media,
                    "license": ds.LICENSE_URL,
                    "conformsTo": f"{base}/opendata/{d.name}/datapackage.json",
                }
            )
    return {
        "@id": f"{base}/opendata/{d.name}",
        "@type": "dcat:Dataset",
        "identifier": d.name,
        "title": d.title,
        "description": d.notes,
        "keyword": list(d.tags),
        "publisher": f"{base}/opendata/publisher/{d.state_code}",
        "license": ds.LICENSE_URL,
        "modified": modified,
        "accrualPeriodicity": DAILY,
        "theme": [f"{base}/opendata/theme/{g}" for g in d.groups],
        "distribution": distributions,
    }


def _publishers(request: Request, found: list[ds.Dataset]) -> list[dict[str, Any]]:
    base = _base(request)
    seen = {d.state_code: d.state_name for d in found}
    return [
        {"@id": f"{base}/opendata/publisher/{code}", "@type": "foaf:Agent", "name": f"Local bodies of {name}"}
        for code, name in sorted(seen.items())
    ]


def catalogue(request: Request, session: Session, only: str | None = None) -> dict[str, Any]:
    found = ds.datasets(session)
    if only is not None:
        found = [d for d in found if d.name == only]
        if not found:
            raise NotFound(f"no dataset {only[:100]!r}")
    modified = refreshed_at() + "Z"
    base = _base(request)
    graph: list[dict[str, Any]] = [
        {
            "@id": f"{base}/catalog",
            "@type": "dcat:Catalog",
            "title": "Nagara open data",
            "description": "Service levels, services and the public ledger of the local bodies on this node.",
            "publisher": _publishers(request, found)[0]["@id"] if found else None,
            "homepage": f"{base}/dashboard",
            "license": ds.LICENSE_URL,
            "modified": modified,
            "dataset": [f"{base}/opendata/{d.name}" for d in found],
        },
        *_publishers(request, found),
        *[_dataset(request, d, modified) for d in found],
    ]
    return {"@context": CONTEXT, "@graph": [{k: v for k, v in node.items() if v is not None} for node in graph]}


def turtle(document: dict[str, Any]) -> str:
    """The JSON-LD document as Turtle: expanded to N-Quads by pyld (rdflib's JSON-LD reader warns of its own
    deprecated parts), read by rdflib and written with the usual prefixes."""
    import rdflib  # noqa: PLC0415 - a few hundred ms to import: only when Turtle is asked for
    from pyld import jsonld  # noqa: PLC0415 - as above

    graph = rdflib.Graph()
    graph.parse(data=jsonld.to_rdf(json.loads(json.dumps(document)), {"format": "application/n-quads"}), format="nt")
    for prefix in ("dcat", "dct", "foaf", "vcard", "xsd"):
        graph.bind(prefix, CONTEXT[prefix])
    return str(graph.serialize(format="turtle"))


@router.get("/catalog.jsonld")
def catalog_jsonld(request: Request, session: DbSession) -> Response:
    return JSONResponse(catalogue(request, session), media_type="application/ld+json")


@router.get("/catalog.ttl")
def catalog_ttl(request: Request, session: DbSession) -> Response:
    return Response(turtle(catalogue(request, session)), media_type="text/turtle; charset=utf-8")


@router.get("/opendata/{name}.jsonld")
def dataset_jsonld(request: Request, session: DbSession, name: str) -> Response:
    return JSONResponse(catalogue(request, session, name), media_type="application/ld+json")


@router.get("/opendata/{name}.ttl")
def dataset_ttl(request: Request, session: DbSession, name: str) -> Response:
    return Response(turtle(catalogue(request, session, name)), media_type="text/turtle; charset=utf-8")
