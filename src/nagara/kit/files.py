"""Where uploaded documents live: local disk by default; an interface so object storage can stand in."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import filetype


class FileStore(Protocol):
    def put(self, key: str, content: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class LocalFileStore:
    """Files under one folder; a write goes to a temporary file first, so a crash leaves no half file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"file key {key!r} leaves the store")
        return path

    def put(self, key: str, content: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3FileStore:
    """Files in an S3-compatible object store (AWS S3, MinIO, Ceph RGW...) through boto3."""

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str, access_key: str, secret_key: str) -> None:
        import boto3  # noqa: PLC0415 - boto3 is imported only when the S3 file store is configured (it takes ~0.3 s)

        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
        )

    def put(self, key: str, content: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=content)

    def get(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        data: bytes = body.read()
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def sniff_media_type(content: bytes) -> str | None:
    """The media type the bytes really are (by their signature), whatever the file is called."""
    kind = filetype.guess(content[:8192])
    return kind.mime if kind else None
