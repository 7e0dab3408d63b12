"""Where results and reports are kept: a local folder or an S3 prefix, each file replaced whole.

A local file is replaced by rename, an S3 object by one PUT, so a reader never sees half a
file and a run killed midway leaves the previous version in place.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Protocol


class Store(Protocol):
    def read(self, name: str) -> str | None: ...

    def write(self, name: str, text: str | bytes) -> str:
        """Replace ``name`` whole; returns where it now is."""


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self, name: str) -> str | None:
        path = self.folder / name
        return path.read_text() if path.is_file() else None

    def write(self, name: str, text: str | bytes) -> str:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".inprogress")
        tmp.write_bytes(text.encode() if isinstance(text, str) else text)
        os.replace(tmp, path)
        return str(path)


class S3Store:
    """``s3://bucket/prefix``; credentials from the environment or the job's role."""

    def __init__(self, uri: str, client=None) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def read(self, name: str) -> str | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read().decode()
        except self.client.exceptions.NoSuchKey:
            return None

    def write(self, name: str, text: str | bytes) -> str:
        key = self._key(name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        body = text.encode() if isinstance(text, str) else text
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return f"s3://{self.bucket}/{key}"


def store_for(location: str | Path) -> Store:
    text = str(location)
    return S3Store(text) if text.startswith("s3://") else LocalStore(Path(text))
