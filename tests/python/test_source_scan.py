"""The MongoDB side hashed by Spark tasks, part by part (cdclake/reconcile/scan.py).

- a source's parts hold every document exactly once, whatever the parallelism: byte
  ranges of a mongodump file; ``_id`` ranges of a secondary, for every key type MongoDB
  allows as ``_id`` (ranges only compare within a type);
- the Spark side answers every question of a reconciliation as the driver-side index
  does (counts, checksums of any segment, digests, split points, what was read);
- a document with no canonical form stops the run naming its collection, key and field;
- the tasks read the secondary only.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId
from pyspark import cloudpickle

from cdclake.catalog import Namespace, load_catalog
from cdclake.reconcile.canonical import NoCanonicalForm
from cdclake.reconcile.keys import key_json
from cdclake.reconcile.run import UsageError
from cdclake.reconcile.scan import SparkSourceSide
from cdclake.reconcile.segments import Segment
from cdclake.reconcile.sides import SourceSide
from cdclake.reconcile.sources import DocumentSource, MongoReadSettings, MongoSource, SnapshotSource, SourceDocument
from cdclake.testing.replica_set import FakeReplicaSet

from conftest import Dataset

# Spark's workers cannot import this test module: its classes travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _keys_of_parts(source: DocumentSource, namespace: Namespace, parallelism: int) -> Counter[str]:
    parts = source.partitions(namespace, parallelism)
    return Counter(key_json(document["_id"]) for part in parts for document, _, _ in source.scan(namespace, part))


@pytest.mark.parametrize("parallelism", [1, 2, 3, 7, 64])
def test_snapshot_parts_hold_every_document_once(faulty: Dataset, parallelism: int, monkeypatch) -> None:
    source = SnapshotSource(faulty.paths.snapshot)
    for name, namespace in load_catalog(faulty.paths).namespaces().items():
        expected = Counter(key_json(document["_id"]) for document, _ in source.documents(namespace))
        assert _keys_of_parts(source, namespace, parallelism) == expected, name
        parts = source.partitions(namespace, parallelism)  # about even: never more, not far fewer
        assert min(parallelism, len(expected)) // 2 <= len(parts) <= parallelism
    # past PART_BYTES a part each, whatever the parallelism
    monkeypatch.setattr("cdclake.reconcile.sources.PART_BYTES", 10_000)
    namespace = load_catalog(faulty.paths).namespaces()["invoices"]
    bounds = [part.split(":") for part in source.partitions(namespace, parallelism)]
    spans = [int(stop) - int(start) for start, stop in bounds]
    assert max(spans) <= 2 * 10_000 and len(spans) > sum(spans) // 20_000  # about PART_BYTES each
    assert _keys_of_parts(source, namespace, parallelism) == Counter(
        key_json(document["_id"]) for document, _ in source.documents(namespace)
    )


def test_an_empty_snapshot_collection_is_one_empty_part(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "empty.bson").write_bytes(b"")
    source, namespace = SnapshotSource(tmp_path), Namespace("ledger", "empty")
    assert source.partitions(namespace, 4) == ["0:0"]
    assert list(source.scan(namespace, "0:0")) == []


def test_a_corrupt_snapshot_is_refused_naming_the_file_and_byte(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    whole = bson.encode({"_id": 1, "a": "x"})
    path = tmp_path / "ledger" / "broken.bson"
    path.write_bytes(whole + whole[:-3])
    with pytest.raises(ValueError, match=rf"{path}: truncated or corrupt BSON document at byte {len(whole)}"):
        SnapshotSource(tmp_path).partitions(Namespace("ledger", "broken"), 2)


# Every type MongoDB allows as _id (arrays and regular expressions it does not), several
# of the range-cut types so that ranges have something to cut.
EVERY_KEY_TYPE: list[Any] = [
    *(ObjectId(f"{index:024x}") for index in range(0, 4000, 37)),
    *(f"{index:03d}-é" for index in range(60)),
    "",
    "1",
    "5f1d7a2e9c3b4a0012345678",
    1,
    -7,
    Int64(2**40),
    2.5,
    Decimal128("3.50"),
    dt.datetime(2024, 2, 29, 12),
    Binary(uuid.UUID(int=5).bytes, 4),
    Binary(b"\x00\x01", 0),
    Binary(b"\x02", 0x80),
    {"b": 1, "a": 2},
    {"a": 2, "b": 1},
    True,
    False,
    None,
    MinKey(),
    MaxKey(),
]


@pytest.mark.parametrize("parallelism", [1, 2, 3, 8])
def test_live_parts_hold_every_document_once_for_every_key_type(parallelism: int, monkeypatch) -> None:
    documents = [{"_id": key, "n": index} for index, key in enumerate(EVERY_KEY_TYPE)]
    with FakeReplicaSet({"mixed": documents}) as replica_set:
        monkeypatch.setenv("CDCLAKE_MONGO_URI", replica_set.uri)
        source = MongoSource(MongoReadSettings(batch_size=50))
        found = _keys_of_parts(source, Namespace("ledger", "mixed"), parallelism)
        source.close()
    assert found == Counter(key_json(key) for key in EVERY_KEY_TYPE)
    assert replica_set.primary.commands == []


def test_a_live_source_travels_to_a_task_without_its_uri(monkeypatch) -> None:
    monkeypatch.setenv("CDCLAKE_MONGO_URI", "mongodb://reader:hunter2pass@127.0.0.1:9/?serverSelectionTimeoutMS=100")
    source = MongoSource(MongoReadSettings())
    shipped = cloudpickle.dumps(source)
    assert b"hunter2pass" not in shipped and b"127.0.0.1" not in shipped
    assert cloudpickle.loads(shipped).settings == source.settings
    source.close()


def _sides(spark, dataset: Dataset) -> tuple[SourceSide, SparkSourceSide]:
    namespaces = load_catalog(dataset.paths).namespaces()
    snapshot = SnapshotSource(dataset.paths.snapshot)
    return SourceSide(snapshot, namespaces), SparkSourceSide(spark, snapshot, namespaces)


def test_the_spark_side_answers_as_the_driver_side(faulty: Dataset, spark) -> None:
    driver, tasks = _sides(spark, faulty)
    try:
        for collection in load_catalog(faulty.paths).names():
            whole = Segment(collection)
            assert tasks.checksums([whole]) == driver.checksums([whole])
            assert tasks.count(collection) == driver.count(collection)
            pieces = whole.split(driver.split_points(whole, 5))
            assert tasks.checksums(pieces) == driver.checksums(pieces)
            assert tasks.digests(pieces[1]) == driver.digests(pieces[1])
            assert tasks.split_points(pieces[2], 3) == driver.split_points(pieces[2], 3)
            keys = sorted(driver.digests(pieces[0]))[:3]
            assert tasks.documents(collection, keys) == driver.documents(collection, keys)
        assert (tasks.stats.documents, tasks.stats.bytes) == (driver.stats.documents, driver.stats.bytes)
    finally:
        tasks.release()


class _Unhashable(DocumentSource):
    """A source whose one document has no canonical form (a Python set): travels by value."""

    def count(self, namespace: Namespace) -> int:
        return 2

    def documents(self, namespace: Namespace) -> Iterator[SourceDocument]:
        yield {"_id": 1, "ok": True}, 10
        yield {"_id": "k", "lines": [{"tags": {1, 2}}]}, 10

    def documents_by_key(self, namespace: Namespace, keys) -> Iterator[SourceDocument]:
        return iter(())

    def keys(self, namespace: Namespace) -> Iterator[str]:
        return iter(())

    def partitions(self, namespace: Namespace, parallelism: int) -> list[str]:
        return ["all"]

    def scan(self, namespace: Namespace, part: str) -> Iterator[tuple[dict[str, Any], int, str | None]]:
        return ((document, size, None) for document, size in self.documents(namespace))


def test_a_document_with_no_canonical_form_stops_the_run_naming_collection_key_and_field(spark) -> None:
    side = SparkSourceSide(spark, _Unhashable(), {"odd": Namespace("ledger", "odd")})
    with pytest.raises(NoCanonicalForm, match=r"set.*\(collection odd, key \"k\"\)") as refused:
        side.checksums([Segment("odd")])
    assert refused.value.path == "lines[0].tags"


def test_a_snapshot_holding_a_key_twice_is_refused_saying_what_to_do(spark, tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    moved = {"_id": ObjectId("5f1d7a2e9c3b4a0012345678"), "n": 1}
    documents = [{"_id": 1}, moved, {"_id": 2}, moved]
    (tmp_path / "ledger" / "c.bson").write_bytes(b"".join(bson.encode(document) for document in documents))
    side = SparkSourceSide(spark, SnapshotSource(tmp_path), {"c": Namespace("ledger", "c")})
    with pytest.raises(UsageError, match=r"collection c key\(s\) .*5f1d7a2e9c3b4a0012345678.* more than once.*--oplog"):
        side.checksums([Segment("c")])


def test_the_tasks_read_the_secondary_only_with_the_uri_of_this_process(faulty: Dataset, spark, monkeypatch) -> None:
    namespaces = load_catalog(faulty.paths).namespaces()
    snapshot = SnapshotSource(faulty.paths.snapshot)
    data = {"clients": [document for document, _ in snapshot.documents(namespaces["clients"])]}
    before = dict(spark.sparkContext.environment)
    with FakeReplicaSet(data) as replica_set:
        monkeypatch.setenv("CDCLAKE_MONGO_URI", replica_set.uri)
        source = MongoSource(MongoReadSettings(batch_size=100))
        live = SparkSourceSide(spark, source, {"clients": namespaces["clients"]})
        try:
            expected = SourceSide(snapshot, namespaces).checksums([Segment("clients")])
            assert live.checksums([Segment("clients")]) == expected
            # documents a live source does not hold (only in the table), asked for after hashing
            assert live.documents("clients", ['{"$oid":"000000000000000000000000"}']) == {}
        finally:
            live.release()
            source.close()
    assert replica_set.primary.commands == []
    assert {"aggregate", "find"} <= set(replica_set.secondary.commands)
    assert dict(spark.sparkContext.environment) == before  # the URI does not outlive the side
    assert os.environ["CDCLAKE_MONGO_URI"] == replica_set.uri


@pytest.mark.parametrize("sketch_keys", [50, 400])
def test_split_points_from_a_sampled_sketch_cut_segments_about_evenly(faulty: Dataset, spark, monkeypatch, sketch_keys):
    # Past SKETCH_KEYS keys the driver keeps a sample; a segment with too few sample keys
    # is cut from its own keys, read from Spark. Either way: points inside, pieces even.
    monkeypatch.setattr("cdclake.reconcile.frames.SKETCH_KEYS", sketch_keys)
    driver, tasks = _sides(spark, faulty)
    try:
        whole = Segment("invoices")
        total = driver.count("invoices")
        for segment, size in [(whole, total), *((s, None) for s in whole.split(driver.split_points(whole, 4))[1:3])]:
            points = tasks.split_points(segment, 8)
            assert points == sorted(set(points)) and all(segment.contains(point) for point in points)
            pieces = segment.split(points)
            counts = [c.count for c in tasks.checksums(pieces)]
            assert sum(counts) == (size or tasks.checksums([segment])[0].count)
            assert len(pieces) >= 6 and max(counts) <= 3 * sum(counts) / len(pieces)
    finally:
        tasks.release()
