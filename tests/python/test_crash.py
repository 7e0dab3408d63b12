"""Runs killed (SIGKILL) midway: the next run converges, nothing lost or doubled.

Each dbt case runs dbt in a child process against the test session's warehouse, kills it
when its progress output reaches a point, runs it again in this process, and compares
with the source. The reconciliation case kills ``cdclake reconcile`` midway and checks
that the last result is untouched and that a rerun gives the full result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bson import json_util

from cdclake.cli import main
from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from conftest import JSON_OPTIONS, SEED, Dataset

pytestmark = pytest.mark.slow

# Progress lines the materialization prints, in the order a run reaches them.
CRASH_POINTS = {
    "after_listing": "new landing file(s)",
    "during_merge": "merging",
    "after_merge_before_record": "merged",
    "after_record": "recorded",
}


def dbt_process(workspace: Path, dataset: Path, schema: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        CDCLAKE_DATA_DIR=str(workspace / "shared"),  # the same warehouse as the test session
        CDCLAKE_LANDING_ROOT=str(dataset / "landing"),
        CDCLAKE_SCHEMA=schema,
        PYTHONUNBUFFERED="1",  # progress lines must reach us as they happen
    )
    command = [sys.executable, "-m", "cdclake", "dbt", "run", "--select", "current_invoices"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_until(process: subprocess.Popen, marker: str) -> bool:
    """Read the child's output; SIGKILL it as soon as `marker` shows. True if it was killed."""
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
    process.wait()
    return False


def table_snapshots(spark, schema: str) -> int:
    spark.sql(f"refresh table {schema}.current_invoices")
    return spark.sql(f"select count(*) from {schema}.current_invoices.snapshots").first()[0]


def applied_cdc_files(spark, schema: str) -> int:
    spark.sql(f"refresh table {schema}.dms_applied_files")
    return spark.sql(f"select count(*) from {schema}.dms_applied_files where file_path not like '%LOAD%'").first()[0]


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_killed_run_converges(workspace: Path, spark, point: str) -> None:
    schema = f"crash_{point}"
    dataset = workspace / schema
    paths = Paths(dataset)
    sim = Simulator(paths.simulator_state, SEED, EndpointSettings(), rows_per_file=2_000)
    sim.full_load(3_000, paths.landing)
    data = Dataset(paths, schema, sim)
    data.dbt("run", "--select", "current_invoices")

    Delivery(paths.outbox, paths.landing).land_batch(sim.cdc_batch(6_000, paths.outbox), chaotic=False)
    started = time.monotonic()
    snapshots_before = table_snapshots(spark, schema)
    killed = run_until(dbt_process(workspace, dataset, schema), CRASH_POINTS[point])
    assert killed, f"the run finished before reaching '{CRASH_POINTS[point]}'"

    # The kill left the table and the applied-files record where the point says.
    merged = table_snapshots(spark, schema) > snapshots_before
    recorded = applied_cdc_files(spark, schema) > 0
    expected = {
        "after_listing": (False, False),
        "after_merge_before_record": (True, False),
        "after_record": (True, True),
    }
    if point in expected:
        assert (merged, recorded) == expected[point]
    data.dbt("run", "--select", "current_invoices")
    assert time.monotonic() - started < 600
    rows = spark.sql(f"select _id, document from {schema}.current_invoices where not is_deleted").collect()
    state = {row["_id"]: json_util.loads(row["document"], json_options=JSON_OPTIONS) for row in rows}
    assert state == {key_json(doc["_id"]): doc for doc in sim.live_documents("invoices")}
    doubled = spark.sql(
        f"select file_path, file_modified_at from {schema}.dms_applied_files "
        "group by file_path, file_modified_at having count(*) > 1"
    ).collect()
    assert doubled == []
    unrecorded = spark.sql(
        f"select count(*) from {schema}.dms_applied_files where file_path like '%/invoices/%'"
    ).first()[0]
    assert unrecorded == len(list((paths.landing / "ledger" / "invoices").rglob("*.parquet")))


def reconcile_process(workspace: Path, dataset: Dataset, state: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        CDCLAKE_DATA_DIR=str(workspace / "shared"),  # the test session's tables
        CDCLAKE_LANDING_ROOT=str(dataset.paths.landing),
        CDCLAKE_SCHEMA=dataset.schema,
        PYTHONUNBUFFERED="1",
    )
    command = [
        *(sys.executable, "-m", "cdclake", "reconcile"),
        *("--snapshot", str(dataset.paths.snapshot), "--state-uri", str(state)),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def findings(result: dict) -> set[tuple[str, str, str, str, bool]]:
    return {
        (check["mode"], check["collection"], m["key"], m["kind"], m["in_flight"])
        for check in result["checks"]
        for m in check["mismatches"]
    }


def test_killed_reconciliation_leaves_the_last_result_whole_and_a_rerun_gives_the_full_result(
    workspace: Path, faulty: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    complete = reconcile_process(workspace, faulty, state)
    complete.communicate()
    assert complete.returncode == 1  # the injected faults are discrepancies
    before = (state / "latest.json").read_bytes()
    # What a run from this state gives when nothing kills it (each run starts where the
    # last one stopped: changed checks only newer applies, in-flight keys are re-checked).
    shutil.copytree(state, tmp_path / "uninterrupted")
    monkeypatch.setenv("CDCLAKE_SCHEMA", faulty.schema)
    monkeypatch.setenv("CDCLAKE_LANDING_ROOT", str(faulty.paths.landing))
    args = ["--quiet", "--snapshot", str(faulty.paths.snapshot), "--state-uri", str(tmp_path / "uninterrupted")]
    assert main(["reconcile", *args]) == 1
    expected = findings(json.loads((tmp_path / "uninterrupted" / "latest.json").read_text()))

    # Killed while the third collection's full check runs, after earlier checks finished.
    assert run_until(reconcile_process(workspace, faulty, state), "invoices: full")
    assert (state / "latest.json").read_bytes() == before

    rerun = reconcile_process(workspace, faulty, state)
    rerun.communicate()
    assert rerun.returncode == 1
    found = findings(json.loads((state / "latest.json").read_text()))
    assert found == expected
    assert {f.key for f in faulty.faults} <= {key for mode, _, key, _, _ in found if mode == "full"}
