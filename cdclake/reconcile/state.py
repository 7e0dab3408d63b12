"""Where reconciliation runs leave their results, locally or on S3.

``latest.json``, ``runs/<UTC time>.json`` and ``in_flight.json`` (the mismatches waiting
for a re-check) are each replaced whole: a local file by rename, an S3 object by one PUT.
They are written at the end of a run, so a run killed midway leaves the previous state
intact.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from .result import FieldDifference, Mismatch, RunResult


class Store(Protocol):
    def read(self, name: str) -> str | None: ...

    def write(self, name: str, text: str) -> str:
        """Replace ``name`` whole; returns where it now is."""


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self, name: str) -> str | None:
        path = self.folder / name
        return path.read_text() if path.is_file() else None

    def write(self, name: str, text: str) -> str:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".inprogress")
        tmp.write_text(text)
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

    def write(self, name: str, text: str) -> str:
        key = self._key(name)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode(), ContentType="application/json")
        return f"s3://{self.bucket}/{key}"


def store_for(location: str | Path) -> Store:
    text = str(location)
    return S3Store(text) if text.startswith("s3://") else LocalStore(Path(text))


class StateFiles:
    LATEST = "latest.json"
    IN_FLIGHT = "in_flight.json"

    def __init__(self, store: Store | str | Path) -> None:
        self.store = store if hasattr(store, "write") else store_for(store)

    def latest(self) -> dict | None:
        text = self.store.read(self.LATEST)
        return json.loads(text) if text else None

    def load_in_flight(self) -> list[Mismatch]:
        text = self.store.read(self.IN_FLIGHT)
        return [
            Mismatch(**{**item, "fields": tuple(FieldDifference(**f) for f in item["fields"])})
            for item in json.loads(text or "[]")
        ]

    def save(self, result: RunResult) -> str:
        """Write the run's result, the in-flight list, then make the result the latest.

        Killed between two writes, the next run re-checks the newer in-flight list against
        the older latest result: at worst a key is re-checked once more, never forgotten.
        """
        document = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        location = self.store.write(f"runs/{result.started_at:%Y%m%dT%H%M%S%fZ}.json", document)
        self.store.write(self.IN_FLIGHT, json.dumps([asdict(m) for m in result.in_flight()]))
        self.store.write(self.LATEST, document)
        return location
