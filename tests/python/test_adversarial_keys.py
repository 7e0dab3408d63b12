"""Keys that used to collide or go unfound, end to end: DMS files in, dbt apply,
bookkeeping, and reconciliation against a mongodump snapshot of the same documents.

Each document below once lost data or hid a loss: ``"1"`` and ``1`` (one DMS text),
an ObjectId and the string of its hex, embedded ``_id``s in both field orders, ``""``,
double, Decimal128, UUID and other binaries, dates, booleans, MinKey and MaxKey.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId

from cdclake.cli import main
from cdclake.demo import mongodump
from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from conftest import Dataset

pytestmark = pytest.mark.slow
SETTINGS = EndpointSettings()
T0 = int(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)
HEX = "5f00000000000000000000aa"

KEYS = {
    "string one": "1",
    "int one": 1,
    "ObjectId": ObjectId(HEX),
    "hex string": HEX,
    "embedded a,b": {"a": 1, "b": "x"},
    "embedded b,a": {"b": "x", "a": 1},
    "empty string": "",
    "double": 2.5,
    "decimal": Decimal128("3.25"),
    "long": Int64(2**40),
    "uuid": Binary(uuid.UUID(int=7).bytes, 4),
    "binary": Binary(b"\x00\x01", 0x80),
    "date": dt.datetime(2026, 1, 2, 3, 4, 5, 678000),
    "true": True,
    "min": MinKey(),
    "max": MaxKey(),
}


def client(key, version: int) -> dict:
    return {"_id": key, "name": f"Client {version}", "version": version}


def land(paths: Paths, relative: str, events: list[Event], with_op: bool = True) -> None:
    write_dms_file(paths.landing / "ledger" / "clients" / relative, events, SETTINGS, with_op=with_op)


@pytest.fixture(scope="module")
def mixed_keys(workspace: Path, spark) -> Dataset:
    paths = Paths(workspace / "mixed_keys")
    land(paths, "LOAD00000001.parquet", [Event("I", k, client(k, 1), T0) for k in KEYS.values()], with_op=False)
    land(
        paths,
        "2026/11/26/20261126-1000000000.parquet",
        [  # write_dms_file gives a delete its typed {"_id": …} on even rows, only the text on odd rows
            Event("U", 1, client(1, 2), T0 + 10),  # the int, not the string
            Event("D", "1", None, T0 + 20),  # text "1" only: "1" and 1 share it -> quarantined
            Event("U", {"b": "x", "a": 1}, client({"b": "x", "a": 1}, 2), T0 + 10),  # that field order only
            Event("D", "", None, T0 + 20),  # text only, and one key has it -> applied
        ],
    )
    land(paths, "2026/11/26/20261126-1000010000.parquet", [Event("D", 2.5, None, T0 + 30)])
    dataset = Dataset(paths, "mixed_keys", simulator=None)
    dataset.dbt("run", "--select", "current_clients")
    return dataset


def table_state(spark, dataset: Dataset) -> dict[str, tuple[bool, int | None]]:
    rows = spark.sql(
        f"select _id, is_deleted, cast(get_json_object(document, '$.version.$numberInt') as int) as version "
        f"from {dataset.schema}.current_clients"
    ).collect()
    return {row["_id"]: (row["is_deleted"], row["version"]) for row in rows}


def test_every_key_type_applies_to_its_own_document(mixed_keys: Dataset, spark) -> None:
    expected = {key_json(key): (False, 1) for key in KEYS.values()}
    expected[key_json(1)] = (False, 2)
    expected[key_json({"b": "x", "a": 1})] = (False, 2)
    expected[key_json("")] = (True, None)
    expected[key_json(2.5)] = (True, None)
    assert len(expected) == len(KEYS)  # no two of them share a key
    assert table_state(spark, mixed_keys) == expected


def test_an_ambiguous_text_only_delete_is_quarantined_with_its_reason(mixed_keys: Dataset, spark) -> None:
    rows = spark.sql(
        f"select document_key, reason from {mixed_keys.schema}.dms_quarantine where source_row is not null"
    ).collect()
    assert [(row["document_key"], row["reason"]) for row in rows] == [
        ("1", 'ambiguous key text "1": the document carries no _id and 2 keys share that text ("1", 1)')
    ]


def test_accounting_holds_with_colliding_texts(mixed_keys: Dataset, spark) -> None:
    log = spark.sql(
        f"select sum(rows_landed), sum(rows_applied), sum(rows_superseded), sum(rows_quarantined) "
        f"from {mixed_keys.schema}.dms_apply_log"
    ).first()
    # 16 full-load rows + 4 + 1 CDC rows; 15 keys end at a row of this run; the full-load
    # rows of 1, {b,a}, "" and 2.5 lost to newer events; one row quarantined.
    assert tuple(log) == (21, 16, 4, 1)


def reconcile_full(dataset: Dataset, monkeypatch, state: Path, snapshot: Path) -> tuple[int, dict]:
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(dataset.paths.data_dir))
    monkeypatch.setenv("CDCLAKE_SCHEMA", dataset.schema)
    args = ["reconcile", "--quiet", "--state-uri", str(state), "--snapshot", str(snapshot)]
    code = main([*args, "--mode", "full", "--mode", "sample", "--collection", "clients", "--leaf-size", "2"])
    return code, json.loads((state / "latest.json").read_text())


def live_source_documents() -> list[dict]:
    documents = {key_json(k): client(k, 1) for k in KEYS.values()}
    documents[key_json(1)] = client(1, 2)
    documents[key_json({"b": "x", "a": 1})] = client({"b": "x", "a": 1}, 2)
    del documents[key_json("")], documents[key_json(2.5)]
    return list(documents.values())


def test_the_lake_reconciles_with_every_key_type(mixed_keys: Dataset, monkeypatch, tmp_path: Path) -> None:
    # MongoDB deleted "1" (the delete that was quarantined), so the table still has it.
    source = [doc for doc in live_source_documents() if doc["_id"] != "1"]
    mongodump.write_collection(tmp_path / "dump", "ledger", "clients", source)
    code, result = reconcile_full(mixed_keys, monkeypatch, tmp_path / "state", tmp_path / "dump")
    found = {(m["mode"], m["key"], m["kind"]) for m in _mismatches(result)}
    assert ("full", '"1"', "extra_in_table") in found
    assert found <= {("full", '"1"', "extra_in_table"), ("sample", '"1"', "extra_in_table")}
    assert code == 1


MISSING = {
    "embedded": {"a": 2, "b": "x"},
    "int vs its text": 2,
    "uuid": Binary(uuid.UUID(int=8).bytes, 4),
    "date": dt.datetime(1969, 12, 31, 23, 59, 59, 999000),
    "decimal": Decimal128("4.75"),
    "hex string": "5f00000000000000000000bb",
}


@pytest.mark.parametrize("missing", MISSING.values(), ids=MISSING.keys())
def test_a_document_missing_from_the_lake_is_found_whatever_its_key(
    mixed_keys: Dataset, monkeypatch, tmp_path: Path, missing
) -> None:
    source = [doc for doc in live_source_documents() if doc["_id"] != "1"]
    mongodump.write_collection(tmp_path / "dump", "ledger", "clients", [*source, client(missing, 1)])
    code, result = reconcile_full(mixed_keys, monkeypatch, tmp_path / "state", tmp_path / "dump")
    full = {(m["key"], m["kind"]) for m in _mismatches(result) if m["mode"] == "full"}
    assert full == {('"1"', "extra_in_table"), (key_json(missing), "missing_in_table")}
    assert code == 1


def _mismatches(result: dict) -> list[dict]:
    return [{**m, "mode": check["mode"]} for check in result["checks"] for m in check["mismatches"]]
