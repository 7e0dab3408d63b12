"""Against a real replica set: runs only when MONGO_URI names one (with at least one
secondary). No MongoDB server exists on the development and CI machines, so here these
tests are skipped; the same code paths are proven on the fake replica set (mockupdb)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient, monitoring

from cdclake.catalog import Namespace
from cdclake.demo import mongodump
from cdclake.demo.documents import make_document
from cdclake.reconcile.keys import key_json
from cdclake.reconcile.sides import SourceSide
from cdclake.reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource
from cdclake.reconcile.strategies import check_full, check_sample

MONGO_URI = os.environ.get("MONGO_URI")
pytestmark = pytest.mark.skipif(
    not MONGO_URI, reason="MONGO_URI is not set: no MongoDB replica set is reachable from this machine"
)


class CommandRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[tuple[str, int], str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.connection_id, event.command_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def scratch_database() -> Iterator[tuple[MongoClient, str, list[dict]]]:
    """A throwaway database written through the primary (test setup only) and replicated
    to every member before the test reads it."""
    writer = MongoClient(MONGO_URI)
    writer.admin.command("ping")
    members = len(writer.nodes) or 1
    name = f"cdclake_test_{uuid.uuid4().hex[:8]}"
    documents = [make_document(5, "clients", index, 0) for index in range(500)]
    writer.get_database(name, write_concern={"w": members, "wtimeout": 30_000}).clients.insert_many(documents)
    yield writer, name, documents
    writer.drop_database(name)
    writer.close()


def test_full_and_sample_read_only_secondaries_of_a_real_replica_set(
    scratch_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, database, documents = scratch_database
    changed = {**documents[7], "status": "changed in the copy"}
    mongodump.write_collection(tmp_path, database, "clients", [*documents[:7], changed, *documents[8:]])
    recorder = CommandRecorder()
    monkeypatch.setenv("CDCLAKE_MONGO_URI", MONGO_URI)
    source = MongoSource(
        MongoReadSettings(batch_size=100),
        client_factory=lambda uri, **options: MongoClient(uri, event_listeners=[recorder], **options),
    )
    namespaces = {"clients": Namespace(database, "clients")}
    secondary, copy = SourceSide(source, namespaces), SourceSide(SnapshotSource(tmp_path), namespaces)
    try:
        full = check_full("clients", secondary, copy)
        sample = check_sample("clients", secondary, copy, size=500, seed=1)
    finally:
        source.close()
    key = key_json(documents[7]["_id"])
    assert [(m.key, m.kind) for m in full.mismatches] == [(key, "differs")]
    assert [(m.key, m.kind) for m in sample.mismatches] == [(key, "differs")]
    primary = writer.primary
    reads = [(address, name) for address, name in recorder.commands if name in {"find", "getMore", "aggregate"}]
    assert reads and all(address != primary for address, _ in reads)
