"""The deployable artifacts (make checks-archive, make airflow-bundle) are built for real
and used as AWS would use them: the checks' archive unpacked in a folder that is not the
checkout and run with Spark's own Python path only; the bundle's DAGs parsed from it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pyspark
import pytest
from moto.server import ThreadedMotoServer

from cdclake.catalog import Catalog, load_catalog
from cdclake.checks import ResultLocations
from cdclake.cli import advance_source, init_source
from cdclake.dbt_runner import run_dbt
from cdclake.demo.dms import EndpointSettings
from cdclake.orchestration.config import PipelineConfig
from cdclake.orchestration.emr import job_spec, results_uri
from cdclake.quality.suites import check_against_catalog, load_suites
from cdclake.settings import Paths
from cdclake.spark import iceberg_runtime_jar
from cdclake.testing.replica_set import FakeReplicaSet

from conftest import Dataset
from repo import REPO
from test_airflow_dag import AIRFLOW, AWS_SETTINGS, airflow_env, inspect_dags, task_states

BUILD = REPO / "infra" / "artifacts" / "build.py"
GLUE_SETTINGS = {
    "CDCLAKE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-glue",
    "AWS_REGION": "eu-west-1",
    "CDCLAKE_WAREHOUSE_URI": "s3://example-warehouse/iceberg",
    "CDCLAKE_GLUE_DATABASE": "in_order",  # the session's in_order dataset stands in for the Glue database
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
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    # dbt-glue would otherwise expire all but the newest snapshot after every incremental run
    assert models and all(node["config"]["iceberg_expire_snapshots"] == "False" for node in models)
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
    assert {"dags/cdclake_pipeline.py", "dags/dbt/dbt_project.yml", "dags/dbt/infra/emr/checks-job.json"} <= names
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


# --- The checks job started as EMR on EKS starts it (issue 13, item 4) ------------------

EMR_ICEBERG_JAR = "local:///usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"  # on EMR's image
GLUE_CATALOG = "spark.sql.catalog.glue_catalog."
DRIVER_ENV = "spark.kubernetes.driverEnv."


def spark_submit_command(parameters: str, warehouse: Path) -> tuple[list[str], dict[str, str]]:
    """The spec's sparkSubmitParameters for ``spark-submit --master local[2]``: EMR's Iceberg
    jar and the Glue catalog swapped for this machine's jar and a Hadoop catalog on the local
    warehouse; the driver's environment (``driverEnv``) returned to be the process's."""
    arguments, environment = ["--master", "local[2]"], {}
    tokens = iter(shlex.split(parameters))
    for flag in tokens:
        value = next(tokens)
        if flag == "--jars":
            assert value == EMR_ICEBERG_JAR, value
            value = str(iceberg_runtime_jar())
        elif flag == "--conf" and value.startswith(DRIVER_ENV):
            name, _, setting = value.removeprefix(DRIVER_ENV).partition("=")
            environment[name] = setting
            continue
        elif flag == "--conf" and value.startswith(GLUE_CATALOG):
            setting = value.removeprefix(GLUE_CATALOG).partition("=")[0]
            if setting in ("catalog-impl", "io-impl"):
                continue  # Glue and S3FileIO: AWS only
            if setting == "warehouse":
                arguments += ["--conf", f"{GLUE_CATALOG}type=hadoop"]
                value = f"{GLUE_CATALOG}warehouse={warehouse}"
        arguments += [flag, value]
    return arguments, environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def job_folder(built: Built, job_dir: Path) -> Path:
    """The job's script and archive uploaded side by side, the archive unpacked as EMR does
    in the driver's working directory (``#environment``)."""
    job_dir.mkdir(parents=True)
    shutil.copy(REPO / "orchestration" / "jobs" / "checks_job.py", job_dir)
    shutil.copy(built.archive, job_dir)
    with tarfile.open(built.archive) as archive:
        archive.extractall(job_dir / "environment", filter="tar")
    return job_dir


def run_as_emr_starts_it(
    job_driver: dict, job_dir: Path, warehouse: Path, aws: dict[str, str]
) -> subprocess.CompletedProcess:
    """``spark-submit`` of an EMR on EKS job driver from ``job_dir``, as the driver pod runs
    it: the swaps of spark_submit_command, the cluster's Spark (here pyspark's)."""
    spec = job_driver["sparkSubmitJobDriver"]
    arguments, driver_env = spark_submit_command(spec["sparkSubmitParameters"], warehouse)
    driver_env["CDCLAKE_DATA_DIR"] = str(job_dir / "tmp")  # the spec's /tmp/cdclake, per test
    spark_home = Path(pyspark.__file__).parent  # the cluster's Spark, as /usr/lib/spark on EMR
    env = {"PATH": os.environ["PATH"], "HOME": str(job_dir), "SPARK_HOME": str(spark_home), **aws, **driver_env}
    if "JAVA_HOME" in os.environ:
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    submit = [str(spark_home / "bin" / "spark-submit"), *arguments, spec["entryPoint"]]
    done = subprocess.run(
        [*submit, *spec["entryPointArguments"]], cwd=job_dir, env=env, capture_output=True, text=True, timeout=900
    )
    (job_dir / "spark-submit.log").write_text(done.stdout + done.stderr)
    return done


def moto_server() -> tuple[ThreadedMotoServer, dict[str, str]]:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    # moto's accounts live in this process, not in the server: start from none
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return moto, aws


def reports_prefix(config: PipelineConfig) -> str:
    """The reports' key prefix in the report bucket."""
    return ResultLocations(results_uri(config)).reports.removeprefix(f"s3://{config.report_bucket}/")


def latest_report(s3, config: PipelineConfig) -> dict:
    report = s3.get_object(Bucket=config.report_bucket, Key=f"{reports_prefix(config)}/latest/report.json")
    return json.loads(report["Body"].read())


def report_keys(s3, bucket: str) -> set[str]:
    return {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }


def test_the_checks_job_runs_as_emr_starts_it(built: Built, in_order: Dataset, workspace: Path, tmp_path: Path) -> None:
    """spark-submit on checks_job.py with the archive, from a folder that is not the checkout,
    with the spec the DAG submits: results and report to S3 (moto server), the MongoDB URI
    from Secrets Manager (moto), reads on the fake replica set's secondary only."""
    job_dir = job_folder(built, tmp_path / "job")
    config = PipelineConfig.from_env(
        {
            **AWS_SETTINGS,
            "CDCLAKE_GLUE_DATABASE": in_order.schema,
            "CDCLAKE_EMR_JOB_SCRIPT_URI": str(job_dir / "checks_job.py"),
            "CDCLAKE_RECONCILE_MODES": "counts,changed,sample,full",
            "CDCLAKE_LANDING_ROOT": str(in_order.paths.landing),  # no S3 connector for Spark here
        }
    )
    catalog = load_catalog(in_order.paths)
    documents = {name: list(in_order.simulator.live_documents(name)) for name in catalog.names()}
    moto, aws = moto_server()
    try:
        clients = {service: client(service, config.region, aws) for service in ("s3", "secretsmanager")}
        clients["s3"].create_bucket(
            Bucket=config.report_bucket, CreateBucketConfiguration={"LocationConstraint": config.region}
        )
        with FakeReplicaSet(documents) as replica_set:
            clients["secretsmanager"].create_secret(Name=config.mongo_uri_secret, SecretString=replica_set.uri)
            done = run_as_emr_starts_it(
                job_spec(config, seed=7)["jobDriver"], job_dir, workspace / "shared" / "warehouse", aws
            )
        assert done.returncode == 0, f"{job_dir / 'spark-submit.log'}: {done.stdout[-3000:]}"
        assert replica_set.primary.commands == []
        assert {"aggregate", "find"} <= set(replica_set.secondary.commands)
        keys = report_keys(clients["s3"], config.report_bucket)
        reports = reports_prefix(config)
        latest = latest_report(clients["s3"], config)
    finally:
        moto.stop()
    assert latest["status"] == "green", latest.get("reason")
    assert {f"{reports}/latest/report.html", f"{reports}/history.json", f"{reports}/index.html"} <= keys
    assert any(key.startswith(f"{reports}/data-docs/") and key.endswith("index.html") for key in keys), sorted(keys)
    assert replica_set.uri not in done.stdout + done.stderr  # the secret's connection string stays out of the log


def client(service: str, region: str, aws: dict[str, str]):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=aws["AWS_ENDPOINT_URL"],
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
    )


# --- The AWS-mode DAG once, end to end on the stand-ins (issue 13, item 5) --------------


class EmrOnEksStandIn(threading.Thread):
    """Runs each job run submitted to moto's EMR on EKS as EMR starts it
    (run_as_emr_starts_it), then gives moto its final state, which moto never changes."""

    def __init__(self, job_dir: Path, warehouse: Path, aws: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.job_dir, self.warehouse, self.aws = job_dir, warehouse, aws
        self.finished: dict[str, subprocess.CompletedProcess] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        from moto.emrcontainers.models import emrcontainers_backends

        while not self.stopping.wait(1):
            for regions in list(emrcontainers_backends.values()):
                for backend in list(regions.values()):
                    for job in list(backend.job_runs.values()):
                        if job.id not in self.finished and job.state == "RUNNING":
                            done = run_as_emr_starts_it(job.job_driver, self.job_dir, self.warehouse, self.aws)
                            self.finished[job.id] = done
                            job.state = "COMPLETED" if done.returncode == 0 else "FAILED"


def test_the_aws_dag_runs_end_to_end_on_the_stand_ins(built: Built, glue_stand_in, tmp_path: Path) -> None:
    """``airflow dags test`` in AWS mode: the S3 sensors (moto server) → dbt through cosmos on
    the glue target (dbt-glue, the Glue stand-in) → the checks job submitted to EMR on EKS
    (moto), run as EMR starts it → the verdict reading the report from S3."""
    paths = Paths(tmp_path / "data")
    init_source(paths, 1_500, 5, EndpointSettings(), 500)
    simulator = advance_source(paths, 1, 300, chaotic=False)
    assert run_dbt(["parse"], paths).success  # the manifest cosmos renders the DAG from
    job_dir = job_folder(built, tmp_path / "job")
    database = "aws_rehearsal"
    glue = glue_stand_in.target_environment(AWS_SETTINGS["CDCLAKE_REGION"])
    # the operator's, before the first run
    glue_stand_in.client(glue["AWS_REGION"]).create_database(DatabaseInput={"Name": database})
    moto, aws = moto_server()
    try:
        emr = client("emr-containers", glue["AWS_REGION"], aws)
        cluster = emr.create_virtual_cluster(
            name="cdclake",
            containerProvider={"type": "EKS", "id": "lake", "info": {"eksInfo": {"namespace": "cdclake"}}},
        )["id"]
        settings = {
            **AWS_SETTINGS,
            "CDCLAKE_GLUE_DATABASE": database,
            "CDCLAKE_WAREHOUSE_URI": glue_stand_in.warehouse,
            "CDCLAKE_EMR_VIRTUAL_CLUSTER_ID": cluster,
            "CDCLAKE_EMR_JOB_SCRIPT_URI": str(job_dir / "checks_job.py"),
            # the sensors watch the bucket; Spark, with no S3 connector here, reads a copy
            "CDCLAKE_LANDING_ROOT": str(paths.landing),
        }
        config = PipelineConfig.from_env(settings)
        s3 = client("s3", config.region, aws)
        for bucket in (config.landing_bucket, config.report_bucket):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": config.region})
        for file in paths.landing.rglob("*.parquet"):
            key = f"{config.landing_prefix}/{file.relative_to(paths.landing).as_posix()}"
            s3.upload_file(str(file), config.landing_bucket, key)
        catalog = load_catalog(paths)
        documents = {name: list(simulator.live_documents(name)) for name in catalog.names()}
        with FakeReplicaSet(documents) as replica_set:
            client("secretsmanager", config.region, aws).create_secret(
                Name=config.mongo_uri_secret, SecretString=replica_set.uri
            )
            runner = EmrOnEksStandIn(job_dir, Path(glue_stand_in.warehouse), aws)
            runner.start()
            env = airflow_env(
                tmp_path / "home",
                paths.data_dir,
                # AWS_ENDPOINT_URL_GLUE (the stand-in) wins over AWS_ENDPOINT_URL (moto) for Glue
                **{**glue, **aws, **settings, "AIRFLOW_CONN_AWS_DEFAULT": "aws://"},
            )
            migrated = subprocess.run(
                [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
            )
            assert migrated.returncode == 0, migrated.stderr[-3000:]
            run = subprocess.run(
                [str(AIRFLOW), "dags", "test", "cdclake_pipeline"],
                env=env,
                capture_output=True,
                text=True,
                timeout=1500,
            )
            runner.stopping.set()
        (tmp_path / "dags-test.log").write_text(run.stdout + run.stderr)
        assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
        latest = latest_report(s3, config)
    finally:
        moto.stop()
    (states,) = task_states(tmp_path / "home")
    assert set(states.values()) == {"success"}, states
    assert {"checks", "verdict", "new_dms_files", "dbt.current_invoices.run"} <= set(states)
    (done,) = runner.finished.values()  # one checks job, run as EMR starts it
    assert done.returncode == 0, done.stdout[-3000:]
    assert latest["status"] == "green", latest.get("reason")
    assert replica_set.primary.commands == []
    tables = {row["tableName"] for row in glue_stand_in.spark.sql(f"show tables in glue_catalog.{database}").collect()}
    assert {"current_invoices", "invoices", "dms_applied_files"} <= tables  # built by dbt-glue
