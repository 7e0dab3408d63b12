"""The Airflow DAG (orchestration/dags): it parses cleanly for both environments with no
top-level work, has the expected shape, and ``airflow dags test`` runs it end to end on
the embedded defaults; a second run with no new files skips dbt and the checks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cdclake.cli import advance_source, init_source, write_snapshot
from cdclake.dbt_runner import run_dbt
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.documents import COLLECTIONS
from cdclake.settings import Paths

from repo import REPO

pytestmark = pytest.mark.slow

DAGS = REPO / "orchestration" / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")
AWS_SETTINGS = {
    "CDCLAKE_ENVIRONMENT": "aws",
    "CDCLAKE_REGION": "eu-central-1",
    "CDCLAKE_LANDING_BUCKET": "firm-dms-landing",
    "CDCLAKE_REPORT_BUCKET": "firm-data-reports",
    "CDCLAKE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-glue",
    "CDCLAKE_WAREHOUSE_URI": "s3://firm-lake/warehouse",
    "CDCLAKE_EMR_VIRTUAL_CLUSTER_ID": "abcdefghijklmnopqrstuvwxy",
    "CDCLAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-emr-job",
    "CDCLAKE_EMR_JOB_SCRIPT_URI": "s3://firm-lake/jobs/checks_job.py",
}


def airflow_env(home: Path, data_dir: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW_CONN_FS_DEFAULT": "fs://",
        "CDCLAKE_DATA_DIR": str(data_dir),
        "CDCLAKE_SCHEMA": "ledger",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


@pytest.fixture(scope="module")
def small_source(tmp_path_factory: pytest.TempPathFactory, spark) -> Paths:
    """A simulated source with its landing files and snapshot, and the dbt manifest the
    DAG renders from (``cdclake dbt parse``)."""
    paths = Paths(tmp_path_factory.mktemp("airflow") / "data")
    init_source(paths, 1_500, 5, EndpointSettings(), 500)
    write_snapshot(paths, advance_source(paths, 1, 300, chaotic=False))
    assert run_dbt(["parse"], paths).success
    return paths


def inspect_dags(env: dict[str, str], dags: Path = DAGS) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("dag_inspect.py")), str(dags)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("settings", [{}, AWS_SETTINGS], ids=["local", "aws"])
def test_the_dag_parses_with_no_top_level_work_and_has_the_expected_shape(
    small_source: Paths, tmp_path: Path, settings: dict[str, str]
) -> None:
    parsed = inspect_dags(airflow_env(tmp_path / "home", small_source.data_dir, **settings))
    assert parsed["errors"] == {}
    dag = parsed["dags"]["cdclake_pipeline"]
    edges = dag["edges"]
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False
    gate = "new_dms_files" if settings else "new_files_since_last_apply"
    # One sensor per collection of the dbt project, any of which opens the gate.
    sensors = sorted(task for task in edges if task.startswith("wait_for_"))
    assert sensors == sorted(f"wait_for_ledger__{name}" for name in COLLECTIONS)
    assert all(edges[sensor] == [gate] for sensor in sensors)
    assert dag["trigger_rules"][gate] == "one_success"
    models = {task.split(".")[1] for task in edges if task.startswith("dbt.") and task.endswith(".run")}
    assert {"current_clients", "current_invoices", "invoices", "journal_entry_lines", "schema_drift"} <= models
    # Every model's tests follow it; nothing downstream of dbt starts before all of dbt.
    assert all(edges[f"dbt.{model}.run"] == [f"dbt.{model}.test"] for model in models)
    assert set(edges[gate]) == {task for task in edges if task.startswith("dbt.stg_ledger__")}
    leaves = [
        task
        for task, after in edges.items()
        if task.startswith("dbt.") and not any(a.startswith("dbt.") for a in after)
    ]
    assert leaves and all(sorted(edges[leaf]) == ["checks", "record_watermark"] for leaf in leaves)
    assert edges["checks"] == ["verdict"] and edges["verdict"] == []
    assert dag["retries"]["verdict"] == 0 and dag["retries"]["dbt.current_invoices.run"] == 2
    assert dag["retries"]["dbt.current_invoices.test"] == 0  # a failing data test is a verdict
    # A failing dbt test still gets its report; a skipped dbt (nothing new) skips the checks.
    assert dag["trigger_rules"]["checks"] == "none_skipped"
    detached = [t for t in edges if t.startswith("dbt.relationships_invoice_line_items_invoice_id")]
    assert len(detached) == 1 and detached[0] in edges["dbt.invoices.run"] + edges["dbt.invoices.test"]
    assert all(timeout for timeout in dag["timeouts"].values())
    # Every task that fails for good tells the alert channels (the notifier skips the verdict and data tests).
    assert all(alerts == ["TaskFailureAlert"] for alerts in dag["failure_alerts"].values()), dag["failure_alerts"]
    # Iceberg upkeep: a nightly DAG of its own locally; Glue's table optimizers on AWS.
    if settings:
        assert "cdclake_maintenance" not in parsed["dags"]
    else:
        upkeep = parsed["dags"]["cdclake_maintenance"]
        assert upkeep["edges"] == {"maintain_tables": []} and upkeep["schedule"] == "@daily"
        assert upkeep["max_active_runs"] == 1 and upkeep["catchup"] is False
        assert upkeep["failure_alerts"] == {"maintain_tables": ["TaskFailureAlert"]}


def task_states(home: Path, dag_id: str = "cdclake_pipeline") -> list[dict[str, str]]:
    """Task states per DAG run, oldest run first."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "select r.run_id, t.task_id, t.state from task_instance t join dag_run r "
            "on r.dag_id = t.dag_id and r.run_id = t.run_id where t.dag_id = ? order by r.id",
            (dag_id,),
        ).fetchall()
    runs: dict[str, dict[str, str]] = {}
    for run_id, task_id, state in rows:
        runs.setdefault(run_id, {})[task_id] = state
    return list(runs.values())


def test_airflow_dags_test_runs_the_pipeline_then_skips_when_nothing_is_new(small_source: Paths, tmp_path: Path):
    env = airflow_env(tmp_path / "home", small_source.data_dir)
    migrated = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    for _ in range(2):
        run = subprocess.run(
            [str(AIRFLOW), "dags", "test", "cdclake_pipeline"], env=env, capture_output=True, text=True, timeout=1500
        )
        assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    first, second = task_states(tmp_path / "home")
    assert set(first.values()) == {"success"}, first
    report = json.loads((small_source.data_dir / "reports" / "latest" / "report.json").read_text())
    assert report["status"] == "green", report["reason"]
    assert {c["collection"] for c in report["collections"]} == {"clients", "engagements", "invoices", "journal_entries"}
    checks = {check["name"] for c in report["collections"] for check in c["checks"] if check["status"] == "green"}
    assert {"Counts vs MongoDB", "Changed documents", "Sampled documents", "dbt tests", "Great Expectations"} <= checks
    assert (small_source.data_dir / "reports" / "runs" / report["run_id"] / "report.html").is_file()
    for name in COLLECTIONS:
        assert second.pop(f"wait_for_ledger__{name}") == "success"
    assert second.pop("new_files_since_last_apply") == "success"
    assert set(second.values()) == {"skipped"}, second

    upkeep = subprocess.run(
        [str(AIRFLOW), "dags", "test", "cdclake_maintenance"], env=env, capture_output=True, text=True, timeout=900
    )
    assert upkeep.returncode == 0, (upkeep.stdout + upkeep.stderr)[-5000:]
    assert task_states(tmp_path / "home", "cdclake_maintenance") == [{"maintain_tables": "success"}]
    assert (small_source.data_dir / "warehouse" / "ledger" / "dms_maintenance_log" / "metadata").is_dir()
