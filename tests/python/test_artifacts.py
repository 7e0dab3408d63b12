"""The deployable artifacts (make checks-archive, make airflow-bundle) are built for real
and used as AWS would use them: the checks' archive unpacked in a folder that is not the
checkout and run with Spark's own Python path only; the bundle's DAGs parsed from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdclake.catalog import Catalog
from cdclake.quality.suites import check_against_catalog, load_suites

from repo import REPO
from test_airflow_dag import AWS_SETTINGS, airflow_env, inspect_dags

BUILD = REPO / "infra" / "artifacts" / "build.py"
GLUE_SETTINGS = {
    "CDCLAKE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-glue",
    "AWS_REGION": "eu-west-1",
    "CDCLAKE_WAREHOUSE_URI": "s3://example-warehouse/iceberg",
}
# What the checks job must not carry: the cluster brings Spark, the job builds nothing
NOT_IN_THE_JOB = ("pyspark", "dbt_core", "dbt_glue", "apache_airflow", "astronomer_cosmos", "moto", "pytest")


@dataclass
class Built:
    archive: Path
    bundle: Path
    logs: dict[str, str]  # what each build printed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("artifacts")
    logs = {}
    for artifact in ("checks", "airflow"):
        done = subprocess.run(
            [sys.executable, str(BUILD), artifact, "--out", str(out)],
            env={**os.environ, **GLUE_SETTINGS},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        logs[artifact] = done.stdout
    assert not (REPO / "profiles" / ".user.yml").exists()
    return Built(out / "cdclake-venv.tar.gz", out / "cdclake-airflow.zip", logs)


@pytest.fixture(scope="module")
def unpacked(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive as Spark unpacks it beside the job (``#environment``)."""
    job_dir = tmp_path_factory.mktemp("emr-job")
    with tarfile.open(built.archive) as archive:
        archive.extractall(job_dir / "environment", filter="tar")
    return job_dir


def test_the_builds_say_their_sizes_and_why_each_package_is_there(built: Built) -> None:
    assert f"built {built.archive}: " in built.logs["checks"] and f"built {built.bundle}: " in built.logs["airflow"]
    packed = {line.split()[0]: line for line in built.logs["checks"].splitlines() if line.strip()}
    assert "the suites of expectations/" in packed["great_expectations"]
    assert "needed by boto3" in packed["botocore"]
    assert "the checks themselves" in packed["cdclake"]
    required = {line.split()[0]: line for line in built.logs["airflow"].splitlines() if line.strip()}
    assert "cosmos runs dbt" in required["dbt-core"]


def test_the_archive_carries_the_suites_and_the_glue_manifest(unpacked: Path) -> None:
    environment = unpacked / "environment"
    manifest = json.loads((environment / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "glue"
    catalog = Catalog.from_manifest(manifest)
    suites = load_suites(environment / "expectations")
    assert {suite.path.name for suite in suites} == {p.name for p in (REPO / "expectations").glob("*.json")}
    check_against_catalog(suites, catalog.table_collections())  # every suite checks a table of the glue target


def test_the_archive_holds_what_the_checks_need_and_nothing_else(unpacked: Path) -> None:
    site_packages = unpacked.glob("environment/lib/python*/site-packages/*.dist-info")
    installed = {path.name.split("-")[0].lower() for path in site_packages}
    assert {"cdclake", "great_expectations", "pymongo", "boto3", "pyarrow"} <= installed
    assert not installed & set(NOT_IN_THE_JOB), installed & set(NOT_IN_THE_JOB)


def test_the_archive_runs_the_checks_command_outside_the_checkout(unpacked: Path) -> None:
    spark_python = Path(sys.prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    zips = sorted(spark_python.glob("pyspark/python/lib/*.zip"))  # what spark-submit puts on the path
    assert len(zips) == 2, zips
    probe = (
        "import sys, cdclake, cdclake.checks, cdclake.reconcile.run, cdclake.quality.validate, cdclake.report.publish;"
        "print(cdclake.__file__); print(sorted(m for m in ('dbt', 'airflow', 'cosmos') if m in sys.modules))"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(map(str, zips)), "HOME": str(unpacked)}
    python = "environment/bin/python"
    done = subprocess.run([python, "-c", probe], cwd=unpacked, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    where, loaded = done.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(unpacked.resolve()) and loaded == "[]"
    usage = subprocess.run([python, "-m", "cdclake", "checks", "--help"], cwd=unpacked, env=env, capture_output=True)
    assert usage.returncode == 0 and b"--results-uri" in usage.stdout


def test_the_bundle_is_what_mwaa_takes(built: Built, tmp_path: Path) -> None:
    with zipfile.ZipFile(built.bundle) as bundle:
        names = set(bundle.namelist())
        requirements = bundle.read("requirements.txt").decode().splitlines()
        with zipfile.ZipFile(bundle.open("plugins.zip")) as plugins:
            (wheel,) = plugins.namelist()
        bundle.extractall(tmp_path / "bundle")
    assert wheel.startswith("cdclake-") and wheel.endswith(".whl")
    assert {"dags/cdclake_pipeline.py", "dags/dbt/dbt_project.yml"} <= names
    assert "dags/cdclake_maintenance.py" not in names  # local only: Glue's table optimizers on AWS
    assert "dags/dbt/target/manifest.json" in names and "dags/dbt/profiles/.user.yml" not in names
    pins = dict(line.split("==") for line in requirements if "==" in line)
    lock = dict(line.split("==") for line in (REPO / "requirements.lock").read_text().splitlines() if "==" in line)
    assert pins and all(lock[name] == version for name, version in pins.items())
    assert "apache-airflow" not in pins and "cdclake" in requirements  # Airflow is MWAA's own


def test_the_bundles_dags_parse_from_it(built: Built, tmp_path: Path) -> None:
    with zipfile.ZipFile(built.bundle) as bundle:
        bundle.extractall(tmp_path / "bundle")
    dags = tmp_path / "bundle" / "dags"
    env = airflow_env(
        tmp_path / "home",
        tmp_path / "data",
        **AWS_SETTINGS,
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        CDCLAKE_DBT_PROJECT_DIR=str(dags / "dbt"),
        CDCLAKE_DBT_MANIFEST=str(dags / "dbt" / "target" / "manifest.json"),
    )
    parsed = inspect_dags(env, dags)
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == {"cdclake_pipeline"}
    edges = parsed["dags"]["cdclake_pipeline"]["edges"]
    assert "dbt.current_invoices.run" in edges and "checks" in edges  # cosmos read the bundle's manifest
