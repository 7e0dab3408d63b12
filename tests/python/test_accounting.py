"""The apply's accounting is a check that can fail: landed = applied + superseded +
quarantined, each term counted on its own (macros/cdc/accounting.sql).

It balances on every dataset the suite builds (each build would fail otherwise; here the
recorded numbers are checked too), and a merge that drops a row fails the run, is
recorded as it happened, and turns the report red.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from bson import ObjectId

from cdclake.catalog import load_catalog
from cdclake.dbt_runner import _environment, dbt_environment
from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.report.lake_facts import read_lake_facts
from cdclake.settings import Paths

from repo import REPO

pytestmark = pytest.mark.slow
T0 = int(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)


@pytest.mark.parametrize("fixture", ["in_order", "chaotic", "variant", "faulty"])
def test_every_apply_of_every_dataset_balances(fixture: str, request, spark) -> None:
    dataset = request.getfixturevalue(fixture)
    rows = spark.sql(f"select * from {dataset.schema}.dms_apply_log").collect()
    assert rows
    for row in rows:
        terms = (row["rows_applied"], row["rows_superseded"], row["rows_quarantined"])
        assert min(terms) >= 0 and row["rows_landed"] == sum(terms), row.asDict()
    # Something was superseded, so the check is not vacuous: events lost to newer ones.
    assert sum(row["rows_superseded"] for row in rows) > 0


BROKEN_MERGE = (
    "using (select * from ({{ latest_changes_sql }}) as all_changes "
    "where _id <> (select min(_id) from ({{ latest_changes_sql }}) as first_change)) as change"
)


def test_a_merge_that_drops_a_row_fails_the_run_and_turns_the_report_red(workspace: Path, spark, tmp_path) -> None:
    from dbt.cli.main import dbtRunner

    project = tmp_path / "project"
    project.mkdir()
    for part in ("dbt_project.yml", "models", "macros", "tests/dbt", "profiles"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        copy(REPO / part, project / part)
    merge = project / "macros" / "cdc" / "merge.sql"
    merge.write_text(merge.read_text().replace("using ({{ latest_changes_sql }}) as change", BROKEN_MERGE))

    paths = Paths(workspace / "broken_merge")
    keys = [ObjectId(f"{n:024x}") for n in range(1, 4)]
    landing = paths.landing / "ledger" / "clients"
    write_dms_file(
        landing / "LOAD00000001.parquet", [Event("I", keys[0], {"_id": keys[0]}, T0)], EndpointSettings(), False
    )

    def run() -> list:
        with _environment(dbt_environment(paths) | {"CDCLAKE_SCHEMA": "broken_merge"}):
            result = dbtRunner().invoke(["run", "--select", "current_clients", "--project-dir", str(project)])
        return [(str(r.status), r.message) for r in result.result.results if r.node.name == "current_clients"]

    assert run()[0][0] == "success"  # the first build creates the table: no merge yet
    events = [Event("I", key, {"_id": key}, T0 + 1) for key in keys[1:]]
    write_dms_file(landing / "2026/11/26/20261126-1000000000.parquet", events, EndpointSettings(), True)
    ((status, message),) = run()
    assert status == "error"
    assert "the apply does not balance: 2 row(s) landed, but 1 applied + 0 superseded + 0 quarantined" in message

    log = spark.sql("select * from broken_merge.dms_apply_log order by finished_at").collect()
    assert [(r["rows_landed"], r["rows_applied"], r["rows_superseded"]) for r in log] == [(1, 1, 0), (2, 1, 0)]
    assert read_lake_facts(spark, "broken_merge", None, load_catalog(paths)).unaccounted == {"clients": 1}
