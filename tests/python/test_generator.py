"""The simulated DMS writes what DMS writes, and the simulated source is reproducible."""

from __future__ import annotations

import gc
import hashlib
import re
import tracemalloc
from pathlib import Path

import bson
import pyarrow.parquet as pq
import pytest
from bson import ObjectId, json_util
from bson.json_util import JSONOptions

from cdclake.demo import mongodump
from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.documents import COLLECTIONS, make_document
from cdclake.demo.simulator import Simulator

TS_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
CDC_NAME = re.compile(r"^\d{8}-\d{10}\.parquet$")
JSON_OPTIONS = JSONOptions(tz_aware=True)


def make_source(root: Path, settings: EndpointSettings = EndpointSettings(), seed: int = 3) -> Simulator:
    sim = Simulator(root / "state", seed, settings, rows_per_file=200)
    sim.full_load(600, root / "landing")
    for _ in range(2):
        sim.cdc_batch(300, root / "landing")
    return sim


def landed_files(root: Path) -> list[Path]:
    return sorted((root / "landing").rglob("*.parquet"))


def test_layout_follows_dms_naming(tmp_path: Path) -> None:
    make_source(tmp_path)
    for collection in COLLECTIONS:
        folder = tmp_path / "landing" / "ledger" / collection
        full_load = sorted(p.name for p in folder.glob("*.parquet"))
        assert full_load and all(re.fullmatch(r"LOAD\d{8}\.parquet", name) for name in full_load)
        cdc = [p for p in folder.rglob("*.parquet") if p.parent != folder]
        assert cdc, f"no CDC files for {collection}"
        for path in cdc:
            assert CDC_NAME.match(path.name), path.name
            year, month, day = path.relative_to(folder).parts[:3]
            assert path.name.startswith(f"{year}{month}{day}-")


def test_columns_and_types_match_the_contract(tmp_path: Path) -> None:
    make_source(tmp_path)
    for path in landed_files(tmp_path):
        schema = pq.read_schema(path)
        expected = (
            ["dms_commit_ts", "_id", "_doc"] if path.name.startswith("LOAD") else ["Op", "dms_commit_ts", "_id", "_doc"]
        )
        assert schema.names == expected, path
        assert all(str(schema.field(name).type) == "string" for name in schema.names)
        table = pq.read_table(path).to_pylist()
        assert all(TS_PATTERN.match(row["dms_commit_ts"]) for row in table)
        if "Op" in schema.names:
            assert {row["Op"] for row in table} <= {"I", "U", "D"}


def test_full_load_carries_op_when_the_endpoint_says_so(tmp_path: Path) -> None:
    make_source(tmp_path, EndpointSettings(include_op_for_full_load=True, key_column="oid_id"))
    load = next((tmp_path / "landing" / "ledger" / "clients").glob("LOAD*.parquet"))
    assert pq.read_schema(load).names == ["Op", "dms_commit_ts", "oid_id", "_doc"]
    assert {row["Op"] for row in pq.read_table(load).to_pylist()} == {"I"}


@pytest.mark.parametrize("mode", ["canonical", "relaxed"])
def test_extended_json_reads_back_to_the_same_document(tmp_path: Path, mode: str) -> None:
    sim = make_source(tmp_path, EndpointSettings(ejson=mode), seed=5)
    rows = pq.read_table(next((tmp_path / "landing" / "ledger" / "clients").glob("LOAD*.parquet"))).to_pylist()
    for index, row in enumerate(rows[:50]):
        original = make_document(sim.seed, "clients", index, 0)
        parsed = json_util.loads(row["_doc"], json_options=JSON_OPTIONS)
        assert parsed == original
        assert row["_id"] == str(original["_id"])
        if mode == "canonical":  # canonical keeps every BSON type: identical bytes
            assert bson.encode(parsed) == bson.encode(original)


def test_documents_cover_the_bson_variety(tmp_path: Path) -> None:
    sim = make_source(tmp_path)
    docs = [doc for name in COLLECTIONS for doc in sim.live_documents(name)]
    encoded = b"".join(bson.encode(doc) for doc in docs)
    for type_byte in (b"\x07", b"\x09", b"\x13", b"\x10", b"\x12", b"\x01", b"\x03", b"\x04", b"\x0a"):
        assert type_byte in encoded  # ObjectId, date, Decimal128, int32, int64, double, doc, array, null
    clients = list(sim.live_documents("clients"))
    assert any(doc["founded_on"].year < 1970 for doc in clients)
    assert any(doc["created_at"].microsecond % 1000 == 0 and doc["created_at"].microsecond for doc in clients)
    assert any("vat_number" not in doc for doc in clients) and any(doc.get("vat_number", 1) is None for doc in clients)
    assert any(not doc["name"].isascii() for doc in clients)
    assert all(isinstance(doc["_id"], str) for doc in sim.live_documents("journal_entries"))


def test_stream_has_the_edge_cases_of_real_streams(tmp_path: Path) -> None:
    make_source(tmp_path)
    rows = []
    for path in landed_files(tmp_path):
        if not path.name.startswith("LOAD"):
            rows += [dict(row, file=path.name) for row in pq.read_table(path).to_pylist()]
    deletes = [row for row in rows if row["Op"] == "D"]
    assert deletes and {row["_doc"] is None for row in deletes} == {True, False}
    assert all(json_util.loads(row["_doc"]).keys() == {"_id"} for row in deletes if row["_doc"])
    updates = [row for row in rows if row["Op"] == "U"]
    assert all(len(json_util.loads(row["_doc"])) > 5 for row in updates)  # full after-image
    stamps = [row["dms_commit_ts"] for row in rows]
    assert len(stamps) > len(set(stamps)), "no two events share a commit timestamp"
    by_key: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["dms_commit_ts"], r["file"])):
        by_key.setdefault(row["_id"], []).append(row["Op"])
    assert any("".join(ops).find("DI") >= 0 for ops in by_key.values()), "no delete followed by a re-insert"


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    digests = []
    for run in ("a", "b"):
        make_source(tmp_path / run)
        files = landed_files(tmp_path / run)
        digests.append({p.relative_to(tmp_path / run): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    assert digests[0] == digests[1]


def test_state_survives_save_and_open(tmp_path: Path) -> None:
    sim = make_source(tmp_path)
    sim.save()
    reopened = Simulator.open(tmp_path / "state")
    reopened.cdc_batch(100, tmp_path / "after-reopen")
    sim.cdc_batch(100, tmp_path / "without-reopen")
    assert reopened.live_counts() == sim.live_counts()
    names = sorted(p.name for p in (tmp_path / "after-reopen").rglob("*.parquet"))
    assert names == sorted(p.name for p in (tmp_path / "without-reopen").rglob("*.parquet"))


def test_snapshot_is_a_mongodump_of_the_live_documents(tmp_path: Path) -> None:
    sim = make_source(tmp_path)
    counts = sim.write_snapshot(tmp_path / "dump")
    assert counts == sim.live_counts()
    for collection in COLLECTIONS:
        dumped = list(mongodump.read_collection(tmp_path / "dump", "ledger", collection))
        assert dumped == list(sim.live_documents(collection))
        assert (tmp_path / "dump" / "ledger" / f"{collection}.metadata.json").is_file()
    assert isinstance(dumped[0]["_id"], (ObjectId, str))


def test_snapshot_reader_names_a_missing_collection(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.bson"):
        list(mongodump.read_collection(tmp_path, "ledger", "nope"))


def test_chaotic_delivery_lands_a_file_late_and_one_twice(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "state", 1, EndpointSettings(), rows_per_file=100)
    sim.full_load(300, tmp_path / "landing")
    delivery = Delivery(tmp_path / "outbox", tmp_path / "landing")
    first = sim.cdc_batch(400, tmp_path / "outbox")
    delivery.land_batch(first, chaotic=True)
    (late,) = delivery.held_back
    assert not (tmp_path / "landing" / late.relative_path).exists()
    second = sim.cdc_batch(400, tmp_path / "outbox")
    delivery.land_batch(second, chaotic=True)
    assert (tmp_path / "landing" / late.relative_path).exists()
    landed_paths = [f.relative_path for f in delivery.landed]
    assert len(landed_paths) > len(set(landed_paths)), "no file landed twice"
    delivery.flush()
    assert {f.relative_path for f in first + second} == {f.relative_path for f in delivery.landed}


def test_full_load_memory_does_not_grow_with_the_source(tmp_path: Path) -> None:
    """Streaming: 4x the documents must not mean 4x the peak Python memory."""

    def peak_bytes(documents: int) -> int:
        sim = Simulator(tmp_path / f"s{documents}", 1, EndpointSettings(), rows_per_file=250)
        gc.collect()
        tracemalloc.start()
        sim.full_load(documents, tmp_path / f"l{documents}")
        sim.write_snapshot(tmp_path / f"d{documents}")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    peak_bytes(500)  # first-use allocations (caches, codecs) are not what is measured
    small, large = peak_bytes(2_000), peak_bytes(8_000)
    assert large < small * 1.5, f"peak memory grew from {small:,} to {large:,} bytes"
