"""Names are data, never code: file names and a landing root holding quotes, commas,
braces, brackets, glob characters, spaces, non-ASCII letters and `%` are listed, read,
applied and recorded exactly; a collection nothing has landed for builds an empty table;
names that cannot be made safe are refused with the setting or file named.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bson import ObjectId, json_util
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdclake.catalog import load_catalog
from cdclake.dbt_runner import run_dbt
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.names import UnusableName, hadoop_glob_literal, sql_identifier, sql_string
from cdclake.reconcile.lake import LakeState
from cdclake.settings import Paths, target_schema

from conftest import SEED, Dataset

pytestmark = pytest.mark.slow
T0 = dt.datetime(2026, 11, 26, 10, 0, 0, 123456)
# Every character Spark SQL or Hadoop's glob could take for syntax, a space, non-ASCII
# letters and URI escapes, in one folder name.
ROOT_NAME = "land ro'ot, {a,b} [1] *? é 日本 % %20 `\"#; \\"
SCHEMA = "names"
RUN_1 = {  # file -> rows (Op, seconds after T0, key number)
    "LOAD00000001.parquet": [("I", 0, 1), ("I", 0, 2), ("I", 0, 3)],
    "qu'ote.parquet": [("U", 10, 1)],
    "com,ma.parquet": [("U", 11, 2), ("U", 12, 2)],
    "br{ace}.parquet": [("I", 13, 4)],
    "{a,b}.parquet": [("I", 13, 11)],
    "brack[1].parquet": [("I", 14, 5)],
    "sp ace é ü 日本.parquet": [("I", 15, 6)],
    "100%.parquet": [("I", 16, 7)],
    "%41%20.parquet": [("I", 16, 8)],  # a literal %41, not an A
    "back\\slash.parquet": [("D", 17, 3)],
    'tick`plus+dq".parquet': [("U", 18, 4)],
    "star*q?.parquet": [("I", 20, 10)],
    "2026/11/26/da,te {x}[y].parquet": [("I", 19, 9)],
}
RUN_2 = {
    "2026/11/27/late 'one', {x}.parquet": [("U", 30, 5), ("I", 31, 12), ("X", 32, 6)],  # X: unknown Op
}
NOT_PARQUET = "not parquet {x}, 'y'.parquet"


def ts(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")


def oid(n: int) -> str:
    return f"{n:024x}"


def land(folder: Path, files: dict[str, list[tuple[str, int, int]]]) -> None:
    for name, rows in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = {
            "Op": [op for op, _, _ in rows],
            "dms_commit_ts": [ts(seconds) for _, seconds, _ in rows],
            "_id": [oid(n) for _, _, n in rows],
            "_doc": [
                None if op == "D" else json_util.dumps({"_id": ObjectId(oid(n)), "number": f"{op}{seconds}-{n}"})
                for op, seconds, n in rows
            ],
        }
        pq.write_table(pa.table({key: pa.array(values, pa.string()) for key, values in columns.items()}), path)


def uri(path: Path) -> str:
    """A local file's path in the one form cdclake stores: as Spark lists it."""
    return f"file:{path}"


@pytest.fixture(scope="module")
def names(workspace: Path, spark) -> dict:
    root = workspace / "names" / ROOT_NAME
    folder = root / "ledger" / "invoices"
    dataset = Dataset(Paths(workspace / "names", landing_override=str(root)), SCHEMA, simulator=None)
    land(folder, RUN_1)
    first = dataset.dbt("run", "--select", "current_invoices")
    lake = LakeState(spark, SCHEMA, str(root), load_catalog(dataset.paths))
    land(folder, RUN_2)
    (folder / NOT_PARQUET).write_text("not parquet, {x}")
    pending = lake._list_pending("invoices")
    second = dataset.dbt("run", "--select", "current_invoices")
    return {
        "folder": folder,
        "runs": [*first.invocation_ids, *second.invocation_ids],
        "pending_before": pending,
        "pending_after": lake._list_pending("invoices"),
    }


def apply_log(spark, invocation_id: str) -> dict:
    rows = spark.sql(f"select * from {SCHEMA}.dms_apply_log where invocation_id = '{invocation_id}'").collect()
    assert len(rows) == 1
    return rows[0].asDict()


def test_every_row_is_applied(names: dict, spark) -> None:
    rows = spark.sql(
        f"select _id, is_deleted, get_json_object(document, '$.number') as number, source_file "
        f"from {SCHEMA}.current_invoices"
    ).collect()
    state = {row["number"] or row["source_file"]: row["is_deleted"] for row in rows}
    assert state == {
        "U10-1": False,
        "U12-2": False,
        "back\\slash.parquet": True,  # key 3, deleted
        "U18-4": False,
        "U30-5": False,
        "I15-6": False,
        "I16-7": False,
        "I16-8": False,
        "I19-9": False,
        "I20-10": False,
        "I13-11": False,
        "I31-12": False,
    }
    files = {row["number"]: row["source_file"] for row in rows if row["number"]}
    assert files["I16-8"] == "%41%20.parquet" and files["I15-6"] == "sp ace é ü 日本.parquet"


def test_accounting_is_exact_in_each_run(names: dict, spark) -> None:
    fields = ("files_new", "files_quarantined", "rows_landed", "rows_applied", "rows_superseded", "rows_quarantined")
    first, second = (apply_log(spark, run) for run in names["runs"])
    # 16 rows, 11 keys: superseded are the full-load copies of 1, 2, 3, the first update of
    # 2 and the insert of 4.
    assert tuple(first[f] for f in fields) == (13, 0, 16, 11, 5, 0)
    # Only the new files: the late file (3 rows, one quarantined) and the file that is not Parquet.
    assert tuple(second[f] for f in fields) == (2, 1, 3, 2, 0, 1)


def test_files_are_recorded_by_their_path_as_listed(names: dict, spark) -> None:
    folder = names["folder"]
    recorded = spark.sql(f"select file_path, quarantine_reason from {SCHEMA}.dms_applied_files").collect()
    expected = {uri(folder / name) for name in [*RUN_1, *RUN_2, NOT_PARQUET]}
    assert sorted(row["file_path"] for row in recorded) == sorted(expected)
    assert {row["file_path"] for row in recorded if row["quarantine_reason"]} == {uri(folder / NOT_PARQUET)}


def test_only_the_bad_row_and_the_bad_file_are_quarantined(names: dict, spark) -> None:
    quarantined = spark.sql(f"select file_path, source_row, reason from {SCHEMA}.dms_quarantine").collect()
    folder = names["folder"]
    assert sorted((row["file_path"], row["source_row"]) for row in quarantined) == sorted(
        [(uri(folder / "2026/11/27/late 'one', {x}.parquet"), 2), (uri(folder / NOT_PARQUET), None)]
    )
    reasons = {row["reason"].split(":")[0] for row in quarantined}
    assert reasons == {'unknown Op "X"', "not a Parquet file (or truncated)"}


def test_reconciliation_lists_landing_the_same_way(names: dict) -> None:
    assert (names["pending_before"].files, names["pending_after"].files) == (2, 0)


@pytest.fixture(scope="module")
def day_one(workspace: Path, spark) -> Dataset:
    """DMS's full load, but one collection has no folder yet (nothing to load)."""
    paths = Paths(workspace / "day_one")
    simulator = Simulator(paths.simulator_state, SEED, EndpointSettings(), rows_per_file=250)
    simulator.full_load(300, paths.landing)
    shutil.rmtree(paths.landing / "ledger" / "journal_entries")
    dataset = Dataset(paths, "day_one", simulator)
    dataset.build_outcome = dataset.dbt("build")
    return dataset


def test_a_collection_with_nothing_landed_builds_an_empty_table(day_one: Dataset, spark) -> None:
    assert day_one.build_outcome.count("fail", "error") == 0, day_one.build_outcome.statuses
    assert spark.table("day_one.current_journal_entries").count() == 0
    assert spark.table("day_one.current_clients").count() == len(list(day_one.simulator.live_documents("clients")))
    log = spark.sql(
        "select files_new, rows_landed, rows_applied from day_one.dms_apply_log where target_table like '%journal%'"
    ).collect()
    assert [tuple(row) for row in log] == [(0, 0, 0)]
    dbt_log = (day_one.paths.dbt_dir / "logs" / "dbt.log").read_text()
    assert "no landing folder yet for ledger.journal_entries: built an empty table" in dbt_log


def test_a_bad_schema_name_is_refused_naming_the_setting(workspace: Path, spark, monkeypatch) -> None:
    paths = Paths(workspace / "bad_schema")
    with pytest.raises(UnusableName, match='CDCLAKE_SCHEMA="le\'dger"'):
        run_dbt(["run"], paths, schema="le'dger")
    monkeypatch.setenv("CDCLAKE_SCHEMA", "le'dger")
    with pytest.raises(UnusableName, match="CDCLAKE_SCHEMA"):
        target_schema()
    outcome = run_dbt(["run", "--select", "current_invoices"], paths)  # dbt reads CDCLAKE_SCHEMA itself
    assert not outcome.success
    assert 'CDCLAKE_SCHEMA="le\'dger" is not a usable schema name' in outcome.error


def test_a_landing_root_hadoop_cannot_glob_is_refused_naming_the_setting(workspace: Path, spark) -> None:
    root = workspace / "colon" / "dms:landing"
    land(root / "ledger" / "invoices", {"LOAD00000001.parquet": [("I", 0, 1)]})
    paths = Paths(workspace / "colon", str(root))
    outcome = run_dbt(["run", "--select", "current_invoices"], paths, schema="colon")
    assert outcome.statuses == {"error": ["current_invoices"]}
    message = f'CDCLAKE_LANDING_ROOT (dbt var landing_root)="{root}" cannot be listed by Spark'
    assert message in (paths.dbt_dir / "logs" / "dbt.log").read_text()


@pytest.mark.parametrize("value", ["1", "ten", "-4"])
def test_a_bad_compaction_setting_is_refused_before_any_apply(workspace: Path, spark, value: str) -> None:
    paths = Paths(workspace / "compact_setting")
    land(paths.landing / "ledger" / "invoices", {"LOAD00000001.parquet": [("I", 0, 1)]})
    outcome = run_dbt(
        ["run", "--select", "current_invoices", "--vars", json.dumps({"cdc_compact_small_files_at": value})],
        paths,
        schema="compact_setting",
    )
    assert not outcome.success
    assert f'cdc_compact_small_files_at (CDCLAKE_COMPACT_SMALL_FILES_AT) is "{value}"' in outcome.error
    assert not list(paths.warehouse.glob("compact_setting/current_invoices"))


def test_the_python_glob_escape_matches_exactly_one_path(tmp_path: Path, spark) -> None:
    folder = tmp_path / ROOT_NAME
    land(folder, {name: [("I", 0, 1)] for name in ["{a,b}.parquet", "a.parquet", "b.parquet", "[ab].parquet"]})
    for name in ["{a,b}.parquet", "[ab].parquet"]:
        read = spark.read.format("binaryFile").load(hadoop_glob_literal(str(folder / name))).select("path").collect()
        assert [row["path"] for row in read] == [uri(folder / name)]


NAMES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NAMES)
def test_python_quoting_makes_any_text_a_literal_and_any_name_an_identifier(spark, text: str) -> None:
    """The Python twins of sql_string and sql_identifier (the maintenance names its tables
    through them): Spark reads back exactly the text, quotes, backslashes and backticks too."""
    row = spark.sql(f"select {sql_string(text)} as {sql_identifier(text)}").first()
    assert row[0] == text and row.asDict() == {text: text}
