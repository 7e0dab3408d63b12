"""Acceptance: a fifth collection, in a second MongoDB database, is a few dbt files and a
suite. A copy of the project gains `hr.timesheets` (source entry, staging model,
current-state model, typed mart, one suite, and the monitoring model's `depends_on`
line, which dbt needs and the project checks); its DMS files and snapshot land beside
the simulated `ledger`; then the pipeline runs as the DAG runs it: dbt builds it, Great
Expectations validates it, every reconciliation mode covers it, the report shows it in
its table and charts, and the DAG watches its prefix and runs its models. A planted bad
row on it turns the report red. Nothing outside the dbt project and the suite changes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from bson import Decimal128, ObjectId

from cdclake.catalog import load_catalog
from cdclake.checks import run_checks
from cdclake.dbt_runner import DbtOutcome, run_dbt
from cdclake.demo import mongodump
from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.demo.simulator import Simulator
from cdclake.quality.suites import SuiteFileError, check_against_catalog, load_suites
from cdclake.reconcile.progress import Progress
from cdclake.reconcile.run import MODES, Options
from cdclake.reconcile.sources import SnapshotSource
from cdclake.report.model import ANOMALIES, FRESHNESS, RECONCILE_MODES
from cdclake.report.publish import PublishedReport
from cdclake.settings import Paths

from conftest import SEED
from repo import copy_project
from test_airflow_dag import airflow_env, inspect_dags

pytestmark = pytest.mark.slow
SCHEMA = "fifth"
TIMESHEETS = 30
HINT_FILE = Path("models/monitoring/field_type_observations.sql")

SOURCES_YML = """\
version: 2

sources:
  - name: hr
    description: The `hr` MongoDB database as AWS DMS lands it (see the `ledger` source).
    schema: global_temp
    meta:
      dms_database: hr
    config:
      freshness:
        warn_after: {count: 1, period: day}
        error_after: {count: 3, period: day}
    tables:
      - name: timesheets
        identifier: dms_new_changes__hr__timesheets
        description: New DMS change rows of the `timesheets` collection.
        meta:
          dms_collection: timesheets
"""
CURRENT_STATE_YML = """\
version: 2

models:
  - name: current_timesheets
    description: Current state of the `timesheets` collection (see current_clients).
    data_tests:
      - landing_files_applied_once
    columns:
      - name: _id
        data_tests:
          - unique
"""
MART_YML = """\
version: 2

models:
  - name: timesheets
    description: Hours booked per employee and day, one row per live timesheet.
    columns:
      - name: timesheet_id
        data_tests:
          - unique
          - not_null
      - name: employee_id
        data_tests:
          - not_null
"""
MART_SQL = """\
{%- set typed = [
    ('employee_id', 'doc.employee_id', ejson_field_key('document', 'employee_id')),
    ('work_date', 'doc.work_date', ejson_timestamp('doc.work_date')),
    ('hours', 'doc.hours', ejson_decimal('doc.hours', 5, 2)),
] -%}

with live_documents as (
    {{ live_documents(ref('current_timesheets'), ['employee_id', 'work_date', 'hours', 'project']) }}
)

select
    _id as timesheet_id,
    doc.project,
    {{ typed_columns(typed) }},
    {{ uncast_fields(typed) }} as uncast_fields
from live_documents
"""
SUITE = {
    "name": "timesheets",
    "meta": {"table": "timesheets", "key": "timesheet_id", "collection": "timesheets"},
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "hours", "min_value": 0, "max_value": 24},
         "description": "A day's hours are between 0 and 24."},
    ],
}  # fmt: skip


def add_timesheets(project: Path) -> None:
    """What an analytics engineer writes to add `hr.timesheets`: dbt files and a suite."""
    files = {
        "models/staging/hr/_hr__sources.yml": SOURCES_YML,
        "models/staging/hr/stg_hr__timesheets.sql": "{{ dms_changes(source('hr', 'timesheets')) }}\n",
        "models/current_state/current_timesheets.sql": (
            "select * from {{ cdc_latest_change_per_key(ref('stg_hr__timesheets')) }}\n"
        ),
        "models/current_state/_hr__current_state.yml": CURRENT_STATE_YML,
        "models/marts/hr/timesheets.sql": MART_SQL,
        "models/marts/hr/_hr__models.yml": MART_YML,
        "expectations/timesheets.json": json.dumps(SUITE, indent=2),
    }
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)


def add_depends_on_hint(project: Path) -> None:
    hints = project / HINT_FILE
    text = hints.read_text()
    last = "-- depends_on: {{ ref('current_journal_entries') }}\n"
    hints.write_text(text.replace(last, last + "-- depends_on: {{ ref('current_timesheets') }}\n"))


def timesheet(number: int, hours: str) -> dict:
    return {
        "_id": ObjectId(f"{0x7E000000 + number:024x}"),
        "employee_id": ObjectId(f"{0x7F000000 + number % 7:024x}"),
        "work_date": dt.datetime(2026, 11, 1 + number % 28, tzinfo=dt.UTC),
        "hours": Decimal128(Decimal(hours)),
        "project": f"P-{number % 4}",
    }


def land(paths: Paths, name: str, events: list[Event], with_op: bool) -> None:
    write_dms_file(paths.landing / "hr" / "timesheets" / name, events, EndpointSettings(), with_op=with_op)


@dataclass
class Fifth:
    paths: Paths
    project: Path
    unhinted_error: str | None
    build: DbtOutcome
    report: PublishedReport
    documents: dict[str, dict]  # as in the source, by key


@pytest.fixture(scope="module")
def fifth(tmp_path_factory: pytest.TempPathFactory, spark) -> Iterator[Fifth]:
    root = tmp_path_factory.mktemp("fifth")
    project = copy_project(root / "project")
    add_timesheets(project)

    paths = Paths(root / "data")
    simulator = Simulator(paths.simulator_state, SEED, EndpointSettings(), rows_per_file=250)
    simulator.full_load(200, paths.landing)
    simulator.write_snapshot(paths.snapshot)
    start = 1_795_000_000_000_000  # microseconds: after the simulated full load
    sheets = {n: timesheet(n, f"{4 + n % 5}.50") for n in range(TIMESHEETS)}
    land(paths, "LOAD00000001.parquet", [Event("I", d["_id"], d, start) for d in sheets.values()], with_op=False)
    sheets[3] = {**sheets[3], "hours": Decimal128("7.25")}
    sheets[TIMESHEETS] = timesheet(TIMESHEETS, "8.00")
    changes = [
        Event("U", sheets[3]["_id"], sheets[3], start + 10),
        Event("I", sheets[30]["_id"], sheets[30], start + 20),
    ]
    land(paths, "2026/12/01/20261201-000000001.parquet", changes, with_op=True)
    mongodump.write_collection(paths.snapshot, "hr", "timesheets", sheets.values())

    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDCLAKE_DBT_PROJECT_DIR", str(project))
        env.setenv("CDCLAKE_DATA_DIR", str(paths.data_dir))
        env.setenv("CDCLAKE_SCHEMA", SCHEMA)
        # Without the monitoring model's hint, dbt would run it before the new table: refused.
        unhinted = run_dbt(["compile", "--select", "field_type_observations"], paths, schema=SCHEMA)
        add_depends_on_hint(project)
        build = run_dbt(["build"], paths, schema=SCHEMA)
        report = run_checks(paths, SnapshotSource(paths.snapshot), Options(), progress=Progress.silent(), say=print)
        yield Fifth(paths, project, unhinted.error, build, report, {str(d["_id"]): d for d in sheets.values()})


def test_without_its_depends_on_line_the_monitoring_model_says_which_line_to_add(fifth: Fifth) -> None:
    assert fifth.unhinted_error is not None
    assert "-- depends_on: {{ ref('current_timesheets') }}" in fifth.unhinted_error
    assert str(HINT_FILE) in fifth.unhinted_error


def test_the_catalog_finds_the_collection_in_its_database(fifth: Fifth) -> None:
    catalog = load_catalog(fifth.paths)
    timesheets = catalog.get("timesheets")
    assert (timesheets.database, timesheets.model, timesheets.marts) == ("hr", "current_timesheets", ("timesheets",))
    assert str(timesheets.namespace) == "hr.timesheets"
    assert len(catalog.names()) == 5


def test_dbt_builds_and_tests_it(fifth: Fifth, spark) -> None:
    assert fifth.build.success, fifth.build.error or fifth.build.statuses
    built = fifth.build.statuses["success"] + fifth.build.statuses["pass"]
    assert {"current_timesheets", "timesheets"} <= set(built)
    assert any(name.startswith("landing_files_applied_once_current_timesheets") for name in built)
    rows = spark.sql(f"select timesheet_id, hours from {SCHEMA}.timesheets").collect()
    assert len(rows) == TIMESHEETS + 1
    observed = spark.sql(f"select distinct collection_name from {SCHEMA}.field_type_observations").collect()
    assert "timesheets" in {row[0] for row in observed}


def collection_report(report: PublishedReport, name: str) -> dict:
    document = json.loads(Path(report.html).with_name("report.json").read_text())
    (found,) = [c for c in document["collections"] if c["collection"] == name]
    return found


def test_the_report_checks_it_in_every_mode_and_with_its_suite(fifth: Fifth) -> None:
    assert fifth.report.report.status == "green", fifth.report.report.reason
    found = collection_report(fifth.report, "timesheets")
    checks = {check["name"]: check for check in found["checks"]}
    # its first run: no history to judge against yet, which is no reason for amber
    assert checks.pop(ANOMALIES)["status"] == "not run"
    assert all(check["status"] == "green" for check in checks.values()), checks
    assert FRESHNESS in checks  # its own source's limits, read from its YAML
    assert {RECONCILE_MODES[mode] for mode in MODES} | {"dbt tests", "Great Expectations"} <= set(checks)
    assert "timesheets" in checks["Great Expectations"]["summary"]


def test_the_report_shows_it_in_its_charts(fifth: Fifth) -> None:
    html = Path(fifth.report.html).read_text()
    for chart in ("row-counts", "events-applied", "cdc-lag"):
        svg = re.search(rf'<svg class="chart" data-chart="{chart}".*?</svg>', html, re.S)
        assert svg and "timesheets" in svg.group(0), chart


def test_the_dag_watches_its_prefix_and_runs_its_models(fifth: Fifth, tmp_path: Path) -> None:
    parsed = inspect_dags(
        airflow_env(
            tmp_path / "home", fifth.paths.data_dir, CDCLAKE_SCHEMA=SCHEMA, CDCLAKE_DBT_PROJECT_DIR=str(fifth.project)
        )
    )
    assert parsed["errors"] == {}
    edges = parsed["dags"]["cdclake_pipeline"]["edges"]
    assert edges["wait_for_hr__timesheets"] == ["new_files_since_last_apply"]
    assert {"dbt.current_timesheets.run", "dbt.timesheets.run"} <= set(edges)


def test_a_suite_for_a_table_the_project_lacks_is_refused_by_name(fifth: Fifth, tmp_path: Path) -> None:
    catalog = load_catalog(fifth.paths)
    (tmp_path / "payroll.json").write_text(
        json.dumps({**SUITE, "name": "payroll", "meta": {**SUITE["meta"], "table": "payroll"}})
    )
    with pytest.raises(SuiteFileError, match=r"payroll\.json: table 'payroll' is not a table of one collection"):
        check_against_catalog(load_suites(tmp_path), catalog.table_collections())
    wrong = {**SUITE, "meta": {**SUITE["meta"], "collection": "clients"}}
    (tmp_path / "payroll.json").write_text(json.dumps(wrong))
    with pytest.raises(SuiteFileError, match=r"builds 'timesheets' from the collection 'timesheets'"):
        check_against_catalog(load_suites(tmp_path), catalog.table_collections())


def test_a_bad_row_on_it_turns_the_report_red(fifth: Fifth, spark) -> None:
    """Runs last in this module: it lands a change the source never made."""
    bad = {**next(iter(fifth.documents.values())), "hours": Decimal128("99.00")}
    land(
        fifth.paths, "2026/12/02/20261202-000000001.parquet", [Event("U", bad["_id"], bad, 1_795_000_000_000_100)], True
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDCLAKE_DBT_PROJECT_DIR", str(fifth.project))
        env.setenv("CDCLAKE_DATA_DIR", str(fifth.paths.data_dir))
        env.setenv("CDCLAKE_SCHEMA", SCHEMA)
        assert run_dbt(["build", "--select", "+timesheets"], fifth.paths, schema=SCHEMA).success
        red = run_checks(fifth.paths, SnapshotSource(fifth.paths.snapshot), Options(), progress=Progress.silent())
    assert red.report.status == "red"
    assert "timesheets" in red.report.reason
    checks = {check["name"]: check["status"] for check in collection_report(red, "timesheets")["checks"]}
    assert checks["Great Expectations"] == "red"
    others = [c for c in json.loads(Path(red.html).with_name("report.json").read_text())["collections"]]
    assert all(c["status"] != "red" for c in others if c["collection"] != "timesheets")
