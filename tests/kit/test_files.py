"""Documents in S3-compatible object storage, against moto's S3 server running on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from nagara.kit.files import S3FileStore
from nagara.kit.settings import Settings
from nagara.runtime import Runtime
from tests.applications.helpers import PDF, apply, upload
from tests.conftest import People


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="ap-south-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket="documents", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    yield endpoint
    server.stop()


def store(endpoint: str) -> S3FileStore:
    return S3FileStore(bucket="documents", endpoint_url=endpoint, region="ap-south-1", access_key="k", secret_key="s")


def test_put_get_delete(s3_endpoint: str) -> None:
    files = store(s3_endpoint)
    files.put("kl.tvm-corp/KL-1/a", b"hello")
    assert files.get("kl.tvm-corp/KL-1/a") == b"hello"
    files.delete("kl.tvm-corp/KL-1/a")
    with pytest.raises(Exception, match="NoSuchKey"):
        files.get("kl.tvm-corp/KL-1/a")


def test_uploaded_documents_land_in_the_bucket(client: TestClient, people: People, runtime: Runtime, s3_endpoint: str) -> None:
    runtime.files = store(s3_endpoint)
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", {}, submit=False)
    doc = upload(client, people, "citizen1", draft["number"], "parent-id")
    assert store(s3_endpoint).get(f"{people.body_a}/{draft['number']}/{doc['id']}") == PDF
    got = client.get(f"/api/v1/applications/{draft['number']}/documents/{doc['id']}", headers=people.headers("citizen1"))
    assert got.content == PDF


def test_the_s3_backend_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="NAGARA_S3_BUCKET"):
        Settings(files_backend="s3")
