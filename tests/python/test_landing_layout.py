"""The apply finds a collection's files wherever DMS puts them under its folder: at the
root, and in date folders of every DatePartitionSequence and delimiter (one to four
levels deep); files whose name does not match (`dms_file_name_glob`) are not landed yet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bson import ObjectId, json_util

from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from conftest import Dataset

pytestmark = pytest.mark.slow
COLLECTION_DIR = Path("ledger", "invoices")
# (folder under the collection, DMS settings that write it)
LAYOUTS = [
    ("", "full load, or CDC without date folders"),
    ("2026/11/30", "DatePartitionSequence YYYYMMDD, delimiter SLASH"),
    ("2026/11/30/14", "YYYYMMDDHH, SLASH"),
    ("2026/11", "YYYYMM, SLASH"),
    ("11/2026/30", "MMYYYYDD, SLASH"),
    ("30/11/2026", "DDMMYYYY, SLASH"),
    ("20261130", "YYYYMMDD, delimiter NONE"),
    ("2026-11-30-14", "YYYYMMDDHH, DASH"),
]
NOT_LANDED = ["20261130-0000000099.parquet.inprogress", "notes.txt"]


def document(n: int) -> dict:
    return {"_id": ObjectId(f"{n:024x}"), "n": n}


@pytest.fixture(scope="module")
def layouts(workspace: Path, spark) -> Dataset:
    paths = Paths(workspace / "landing_layouts")
    when = dt.datetime(2026, 11, 30, 14, 0, 0)
    for n, (folder, _) in enumerate(LAYOUTS, start=1):
        target = paths.landing / COLLECTION_DIR / folder
        target.mkdir(parents=True, exist_ok=True)
        name = "LOAD00000001.parquet" if not folder else f"20261130-{n:010d}.parquet"
        row = {
            "Op": "I",
            "dms_commit_ts": (when + dt.timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "_id": f"{n:024x}",
            "_doc": json_util.dumps(document(n)),
        }
        pq.write_table(pa.table({k: pa.array([v], pa.string()) for k, v in row.items()}), target / name)
    for name in NOT_LANDED:  # a file DMS is still writing, and one that is not DMS's
        (paths.landing / COLLECTION_DIR / "2026/11/30" / name).write_bytes(b"not yet")
    dataset = Dataset(paths, "landing_layouts", simulator=None)
    dataset.dbt("run", "--select", "current_invoices")
    return dataset


@pytest.mark.parametrize(("n", "layout"), list(enumerate(LAYOUTS, start=1)), ids=[s for _, s in LAYOUTS])
def test_a_file_in_each_dms_layout_is_applied(layouts: Dataset, spark, n: int, layout: tuple[str, str]) -> None:
    folder, _ = layout
    applied = {
        row["file_path"].split(str(COLLECTION_DIR) + "/", 1)[1]
        for row in spark.sql("select file_path from landing_layouts.dms_applied_files").collect()
    }
    assert any(path.rpartition("/")[0] == folder for path in applied), applied
    rows = spark.sql(
        f"select document from landing_layouts.current_invoices where _id = '{key_json(document(n)['_id'])}'"
    )
    assert [json_util.loads(row["document"]) for row in rows.collect()] == [document(n)]


def test_files_whose_name_does_not_match_are_not_landed(layouts: Dataset, spark) -> None:
    applied = [row[0] for row in spark.sql("select file_path from landing_layouts.dms_applied_files").collect()]
    assert len(applied) == len(LAYOUTS)
    assert not [path for path in applied if path.endswith(tuple(NOT_LANDED))]
    assert spark.sql("select count(*) from landing_layouts.dms_quarantine").first()[0] == 0
