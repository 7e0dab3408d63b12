"""Bad input is quarantined with its file, row and reason; every good row still applies.

Accounting that must hold for every case: rows landed = applied + superseded + quarantined.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bson import ObjectId, json_util

from cdclake.catalog import load_catalog
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from conftest import Dataset

pytestmark = pytest.mark.slow
T0 = dt.datetime(2026, 11, 26, 10, 0, 0, 123456)
COLLECTION_DIR = Path("ledger", "invoices")


def ts(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


def oid(n: int) -> str:
    return f"{n:024x}"


def key(hex_text: str) -> str:
    return key_json(ObjectId(hex_text))


def doc(n: int, number: str = "INV", **extra) -> str:
    return json_util.dumps({"_id": ObjectId(oid(n)), "number": f"{number}-{n}", **extra})


def write(paths: Paths, name: str, rows: list[dict], extra_columns: dict | None = None) -> Path:
    path = paths.landing / COLLECTION_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {key: [row.get(key) for row in rows] for key in ("Op", "dms_commit_ts", "_id", "_doc")}
    columns.update(extra_columns or {})
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), path)
    return path


@pytest.fixture(scope="module")
def bad_input(workspace: Path, spark) -> Dataset:
    paths = Paths(workspace / "bad_input")
    good = [{"Op": "I", "dms_commit_ts": ts(i), "_id": oid(i), "_doc": doc(i)} for i in range(1, 6)]
    write(paths, "LOAD00000001.parquet", good)
    write(
        paths,
        "20261126-1000010000.parquet",
        [
            {"Op": "U", "dms_commit_ts": ts(10), "_id": oid(1), "_doc": doc(1, "UPD")},  # applied
            {"Op": "U", "dms_commit_ts": ts(11), "_id": oid(1), "_doc": doc(1, "UPD2")},  # applied (wins)
            {"Op": "X", "dms_commit_ts": ts(12), "_id": oid(2), "_doc": doc(2)},  # unknown Op
            {"Op": "U", "dms_commit_ts": ts(12), "_id": None, "_doc": '{"number": "no key"}'},  # missing _id
            {"Op": "U", "dms_commit_ts": ts(12), "_id": "", "_doc": doc(3)},  # "" is not doc 3's key
            {"Op": "U", "dms_commit_ts": ts(12), "_id": oid(3), "_doc": '{"_id": {"$oid": '},  # not JSON
            {"Op": "U", "dms_commit_ts": ts(12), "_id": oid(4), "_doc": doc(5)},  # _id disagrees
            {"Op": "U", "dms_commit_ts": "2026-13-45 99:00:00.000000", "_id": oid(4), "_doc": doc(4)},  # bad ts
            {"Op": "U", "dms_commit_ts": ts(12), "_id": oid(4), "_doc": None},  # update, no doc
            {"Op": "D", "dms_commit_ts": ts(13), "_id": oid(5), "_doc": None},  # applied
        ],
    )
    # A file with an extra column: its rows apply, the column is ignored.
    write(
        paths,
        "20261126-1000020000.parquet",
        [{"Op": "I", "dms_commit_ts": ts(20), "_id": oid(6), "_doc": doc(6)}],
        {"extra": ["x"]},
    )
    # A file without the _doc column: its inserts cannot apply and are quarantined.
    missing = paths.landing / COLLECTION_DIR / "20261126-1000030000.parquet"
    pq.write_table(pa.table({"Op": ["I"], "dms_commit_ts": [ts(30)], "_id": [oid(7)]}), missing)
    # Files that are not Parquet at all.
    (paths.landing / COLLECTION_DIR / "20261126-1000040000.parquet").write_text("this is not parquet")
    # An empty Parquet file (no rows) is fine; a 0-byte object is skipped by Spark's scans,
    # and holds nothing that could be lost.
    write(paths, "20261126-1000050000.parquet", [])
    (paths.landing / COLLECTION_DIR / "20261126-1000070000.parquet").write_bytes(b"")
    whole = write(paths, "whole.tmp.parquet", good)
    truncated = paths.landing / COLLECTION_DIR / "20261126-1000060000.parquet"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    dataset = Dataset(paths, "bad_input", simulator=None)
    dataset.dbt("run", "--select", "current_invoices")
    return dataset


def quarantine(spark) -> list[dict]:
    return [row.asDict() for row in spark.sql("select * from bad_input.dms_quarantine").collect()]


def test_good_rows_are_applied(bad_input: Dataset, spark) -> None:
    rows = spark.sql(
        "select _id, is_deleted, get_json_object(document, '$.number') as number from bad_input.current_invoices"
    ).collect()
    state = {row["_id"]: (row["is_deleted"], row["number"]) for row in rows}
    assert state == {
        key(oid(1)): (False, "UPD2-1"),
        key(oid(2)): (False, "INV-2"),
        key(oid(3)): (False, "INV-3"),
        key(oid(4)): (False, "INV-4"),
        key(oid(5)): (True, None),
        key(oid(6)): (False, "INV-6"),
    }


@pytest.mark.parametrize(
    ("file_suffix", "reason"),
    [
        ("1000040000.parquet", "not a Parquet file"),
        ("1000060000.parquet", "not a Parquet file"),
    ],
)
def test_unreadable_files_are_quarantined_whole(bad_input: Dataset, spark, file_suffix: str, reason: str) -> None:
    matches = [q for q in quarantine(spark) if q["file_path"].endswith(file_suffix)]
    assert len(matches) == 1 and matches[0]["source_row"] is None
    assert reason in matches[0]["reason"]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (oid(2), 'unknown Op "X"'),
        (None, "missing _id"),
        ("", "disagrees with the key"),
        (oid(3), "not valid JSON"),
        (oid(4), "disagrees with the key"),
        (oid(4), "commit timestamp"),
        (oid(4), "without a document"),
        (oid(7), "without a document"),
    ],
)
def test_bad_rows_are_quarantined_with_file_row_and_reason(bad_input: Dataset, spark, key, reason: str) -> None:
    matches = [q for q in quarantine(spark) if q["document_key"] == key and reason in q["reason"]]
    assert len(matches) == 1, [q["reason"] for q in quarantine(spark)]
    assert matches[0]["source_row"] is not None and matches[0]["file_path"].endswith(".parquet")


def test_an_empty_parquet_file_is_recorded_with_no_rows(bad_input: Dataset, spark) -> None:
    rows = spark.sql(
        "select row_count, quarantine_reason from bad_input.dms_applied_files "
        "where file_path like '%1000050000.parquet'"
    ).collect()
    assert [tuple(row) for row in rows] == [(0, None)]


def test_nothing_is_lost(bad_input: Dataset, spark) -> None:
    log = spark.sql("select * from bad_input.dms_apply_log").first().asDict()
    landed_rows = sum(
        pq.read_metadata(p).num_rows for p in (bad_input.paths.landing / COLLECTION_DIR).iterdir() if _readable(p)
    )
    assert log["rows_landed"] == landed_rows == 5 + 10 + 1 + 1
    assert log["rows_landed"] == log["rows_applied"] + log["rows_superseded"] + log["rows_quarantined"]
    assert log["rows_quarantined"] == 8
    # One winner per key (6 keys); superseded: the full-load copies of 1 and 5, the first update of 1.
    assert (log["rows_applied"], log["rows_superseded"]) == (6, 3)
    assert log["files_quarantined"] == 2  # not Parquet, truncated


def _readable(path: Path) -> bool:
    try:
        pq.read_metadata(path)
    except Exception:
        return False
    return True


def test_quarantine_is_counted_per_collection_in_the_report_and_the_run_summary(
    bad_input: Dataset, spark, tmp_path: Path
) -> None:
    from cdclake.demo.summary import format_quarantine, quarantined
    from cdclake.report.lake_facts import read_lake_facts
    from cdclake.report.publish import make_report
    from cdclake.storage import LocalStore

    unreadable = {"20261126-1000040000.parquet", "20261126-1000060000.parquet"}  # not Parquet, truncated
    (rows,) = spark.sql("select count(*) from bad_input.dms_quarantine where source_row is not null").first()
    catalog = load_catalog(bad_input.paths)
    facts = read_lake_facts(spark, "bad_input", None, catalog)
    held = facts.quarantine["invoices"]
    assert {f.name for f in held if f.whole_file} == unreadable
    assert sum(f.rows for f in held) == rows > 0
    assert (facts.events_quarantined["invoices"], facts.files_quarantined["invoices"]) == (rows, 2)
    assert facts.quarantine["clients"] == []

    report = make_report(None, None, facts, LocalStore(tmp_path), run_id="bad_input").report
    invoices = next(c for c in report.collections if c.collection == "invoices")
    assert invoices.status == "amber"
    assert (invoices.quarantined["rows"], invoices.quarantined["whole_files"]) == (rows, 2)
    assert all(name in report.reason for name in unreadable), report.reason
    assert f"{rows} row(s) that could not be applied" in report.reason

    (invocation,) = [r[0] for r in spark.sql("select distinct invocation_id from bad_input.dms_apply_log").collect()]
    lines = format_quarantine(quarantined(catalog, [invocation], "bad_input"), quarantined(catalog, schema="bad_input"))
    assert lines[:2] == [
        f"quarantined this run: {rows} row(s) and 2 whole file(s)",
        f"  invoices: {rows} row(s) and 2 whole file(s)",
    ]
    assert all(f"    {name}: whole file (unreadable) — not a Parquet file" in "\n".join(lines) for name in unreadable)
    assert lines[-1].startswith("held in quarantine, all runs (not in the lake; the report stays amber): invoices")
    assert format_quarantine(quarantined(catalog, ["another-invocation"], "bad_input"), {}) == [
        "quarantined this run: nothing"
    ]
