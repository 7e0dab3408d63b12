"""Reconciliation reads MongoDB secondaries only: proven against a fake replica set.

mockupdb plays a primary and a secondary (``cdclake.testing.replica_set``); every command
that is not part of the driver's handshake or monitoring is recorded per server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bson import ObjectId

from cdclake.catalog import Namespace
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.reconcile.canonical import canonical_bytes
from cdclake.reconcile.keys import key_json
from cdclake.reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource, SourceSettingsError
from cdclake.testing.replica_set import FakeReplicaSet

DOCS = [{"_id": ObjectId(f"{n:024x}"), "n": n} for n in range(1, 4)]

CLIENTS = Namespace("ledger", "clients")


@pytest.fixture
def replica_set(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReplicaSet]:
    with FakeReplicaSet({"clients": DOCS}) as fake:
        monkeypatch.setenv("CDCLAKE_MONGO_URI", fake.uri)
        yield fake


def test_every_read_goes_to_the_secondary(replica_set: FakeReplicaSet) -> None:
    source = MongoSource(MongoReadSettings(batch_size=2))
    try:
        assert source.count(CLIENTS) == len(DOCS)
        assert [doc for doc, _ in source.documents(CLIENTS)] == DOCS
        assert list(source.keys(CLIENTS)) == [key_json(d["_id"]) for d in DOCS]
        keys = [key_json(d["_id"]) for d in DOCS]
        assert [doc for doc, _ in source.documents_by_key(CLIENTS, keys)] == DOCS  # ids in two batches
    finally:
        source.close()
    assert replica_set.secondary.commands == ["aggregate", "find", "getMore", "find", "getMore", "find", "find"]
    assert replica_set.primary.commands == []


@pytest.mark.parametrize("preference", ["primary", "primaryPreferred", "nearest", "secondaryPreferred"])
def test_settings_that_could_read_the_primary_are_refused_before_connecting(preference: str) -> None:
    connections = []
    with pytest.raises(SourceSettingsError, match=preference):
        MongoSource(MongoReadSettings(read_preference=preference), client_factory=lambda *a, **k: connections.append(a))
    assert connections == []


def test_secondary_preferred_needs_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDCLAKE_MONGO_URI", "mongodb://user:secret@db.example:27017/?replicaSet=rs")
    created = []
    source = MongoSource(
        MongoReadSettings(read_preference="secondaryPreferred", allow_secondary_preferred=True),
        client_factory=lambda *args, **kwargs: created.append(kwargs) or object(),
    )
    assert created[0]["readPreference"] == "secondaryPreferred"
    assert "secret" not in repr(source)


def test_missing_uri_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDCLAKE_MONGO_URI", raising=False)
    with pytest.raises(SourceSettingsError, match="CDCLAKE_MONGO_URI"):
        MongoSource(MongoReadSettings())


@pytest.mark.parametrize(
    "settings",
    [
        MongoReadSettings(max_staleness_seconds=30),
        MongoReadSettings(batch_size=0),
        MongoReadSettings(max_documents_per_second=0),
        MongoReadSettings(extra_client_options={"readPreference": "primary"}),
    ],
)
def test_unsafe_or_impossible_settings_are_refused(settings: MongoReadSettings) -> None:
    with pytest.raises(SourceSettingsError):
        settings.validate()


def test_rate_limit_paces_reads(replica_set, monkeypatch: pytest.MonkeyPatch) -> None:
    source = MongoSource(MongoReadSettings(max_documents_per_second=2))
    pauses: list[float] = []
    source._sleep = pauses.append
    try:
        assert len(list(source.documents(CLIENTS))) == len(DOCS)
    finally:
        source.close()
    assert pauses and sum(pauses) > 0.5  # 3 documents at 2/s take at least a second


def test_snapshot_source_reads_a_mongodump_directory(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "state", 5, EndpointSettings(), rows_per_file=100)
    sim.full_load(200, tmp_path / "landing")
    sim.write_snapshot(tmp_path / "dump")
    source = SnapshotSource(tmp_path / "dump")
    clients = [doc for doc, _ in source.documents(CLIENTS)]
    # Dates come back naive (UTC), as reconciliation decodes them: compare canonical forms.
    assert [canonical_bytes(d) for d in clients] == [canonical_bytes(d) for d in sim.live_documents("clients")]
    assert source.count(CLIENTS) == len(clients) == sim.live_counts()["clients"]
    assert sum(size for _, size in source.documents(CLIENTS)) == (tmp_path / "dump/ledger/clients.bson").stat().st_size
    wanted = [key_json(clients[0]["_id"]), key_json(clients[-1]["_id"])]
    assert [key_json(d["_id"]) for d, _ in source.documents_by_key(CLIENTS, wanted)] == wanted
    assert list(source.keys(CLIENTS)) == [key_json(d["_id"]) for d in clients]
