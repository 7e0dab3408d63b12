"""The DAG's AWS wiring against moto, marked as what it is: AWS is not reachable from
these machines, so these prove the requests are well formed and the pieces agree, not
that AWS runs them."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
import time
from pathlib import Path
from string import Template

import boto3
import pytest
import yaml

from cdclake.catalog import Collection
from cdclake.orchestration import landing_watch
from cdclake.orchestration.config import PipelineConfig
from cdclake.reconcile.sources import MongoReadSettings, connection_string
from cdclake.storage import S3Store

from conftest import AWS_REGION
from repo import REPO

pytestmark = pytest.mark.aws_double
REGION = AWS_REGION  # moto's, as the `aws` fixture (conftest.py) sets it
INFRA = REPO / "infra"


def config(**overrides: str) -> PipelineConfig:
    settings = {
        "environment": "aws",
        "region": REGION,
        "landing_bucket": "firm-dms-landing",
        "report_bucket": "firm-data-reports",
        "glue_role_arn": "arn:aws:iam::123456789012:role/cdclake-glue",
        "warehouse_uri": "s3://firm-lake/warehouse",
        "emr_virtual_cluster_id": "to-be-created",
        "emr_execution_role_arn": "arn:aws:iam::123456789012:role/cdclake-emr-job",
        "emr_job_script_uri": "s3://firm-lake/jobs/checks_job.py",
    }
    return PipelineConfig(**(settings | overrides))


class Variables:
    """What ``context["var"]["value"]`` offers a check_fn."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)


def test_the_s3_sensor_sees_only_files_landed_since_the_last_apply(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    monkeypatch.setattr(landing_watch, "S3_CLOCK_SKEW", dt.timedelta(0))  # moto and this test share a clock
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="firm-dms-landing", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="firm-dms-landing", Key="dms/ledger/invoices/LOAD00000001.parquet", Body=b"PAR1")
    s3.put_object(Bucket="firm-dms-landing", Key="dms/ledger/invoices/notes.txt", Body=b"not DMS")
    s3.put_object(Bucket="firm-dms-landing", Key="dms/ledger/clients/2026/12/01/later.parquet", Body=b"")
    invoices = Collection("invoices", "ledger", "source.cdclake.ledger.invoices", "current_invoices", "_id", "ts", "*")
    sensor = S3KeySensor(
        task_id=landing_watch.sensor_task_id(invoices),
        bucket_name="firm-dms-landing",
        bucket_key=landing_watch.s3_key_pattern("dms/", invoices),
        wildcard_match=True,
        check_fn=landing_watch.s3_files_are_new,
        metadata_keys=["Key", "LastModified"],
    )

    def poke(watermark: dt.datetime | None) -> bool:
        values = {landing_watch.WATERMARK_VARIABLE: watermark.isoformat()} if watermark else {}
        return sensor.poke({"var": {"value": Variables(values)}})

    assert poke(None)  # never applied: everything is new
    time.sleep(1.1)  # S3 times have one-second precision
    applied = dt.datetime.now(dt.UTC)
    assert not poke(applied)
    time.sleep(1.1)
    s3.put_object(Bucket="firm-dms-landing", Key="dms/ledger/clients/2026/12/02/new.parquet", Body=b"")
    assert not poke(applied)  # another collection's prefix: its own sensor sees it
    s3.put_object(Bucket="firm-dms-landing", Key="dms/ledger/invoices/2026/11/30/20261130-0000010000.parquet", Body=b"")
    assert poke(applied)


def test_the_checks_job_is_submitted_to_emr_on_eks_as_specified(aws) -> None:
    from cdclake.orchestration.emr import ChecksOnEmr, job_spec, results_uri

    emr = boto3.client("emr-containers", region_name=REGION)
    cluster = emr.create_virtual_cluster(
        name="cdclake",
        containerProvider={"id": "analytics-eks", "type": "EKS", "info": {"eksInfo": {"namespace": "cdclake"}}},
    )["id"]
    settings = config(emr_virtual_cluster_id=cluster)
    operator = ChecksOnEmr(
        task_id="checks",
        name="cdclake-checks",
        config=settings,
        virtual_cluster_id=cluster,
        execution_role_arn=settings.emr_execution_role_arn,
        wait_for_completion=False,
    )
    job_id = operator.execute({})
    run = emr.describe_job_run(id=job_id, virtualClusterId=cluster)["jobRun"]
    submitted = run["jobDriver"]["sparkSubmitJobDriver"]
    assert submitted["entryPoint"] == settings.emr_job_script_uri
    arguments = submitted["entryPointArguments"]
    assert arguments[:4] == ["--source", "mongodb", "--mode", "counts,changed,sample"]
    assert arguments[arguments.index("--results-uri") + 1] == results_uri(settings)
    assert arguments[arguments.index("--seed") + 1].isdigit()
    assert run["executionRoleArn"] == settings.emr_execution_role_arn
    assert run["releaseLabel"] == settings.emr_release_label
    assert "${" not in json.dumps(job_spec(settings, seed=7))
    assert f"CDCLAKE_MONGO_URI_SECRET={settings.mongo_uri_secret}" in submitted["sparkSubmitParameters"]
    assert (REPO / "orchestration" / "jobs" / Path(settings.emr_job_script_uri).name).is_file()


def test_the_glue_session_matches_the_dbt_profile_and_glue_accepts_it(aws) -> None:
    session = json.loads((INFRA / "glue" / "interactive-session.json").read_text())
    profile = yaml.safe_load((REPO / "profiles" / "profiles.yml").read_text())["cdclake"]["outputs"]["glue"]
    assert profile["glue_version"] == session["GlueVersion"]
    assert profile["worker_type"] == session["WorkerType"]
    assert str(session["NumberOfWorkers"]) in profile["workers"]
    assert profile["idle_timeout"] == session["IdleTimeout"]
    assert profile["datalake_formats"] == session["DefaultArguments"]["--datalake-formats"]
    glue = boto3.client("glue", region_name=REGION)
    request = {k: v for k, v in session.items() if k != "comment"}
    glue.create_session(Id="dbt-cdclake", Role=config().glue_role_arn, **request)
    created = glue.get_session(Id="dbt-cdclake")["Session"]
    assert created["GlueVersion"] == "5.0" and created["Command"]["Name"] == "glueetl"


def test_results_and_the_mongodb_uri_come_from_s3_and_secrets_manager(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="firm-data-reports", CreateBucketConfiguration={"LocationConstraint": REGION})
    store = S3Store("s3://firm-data-reports/reports/reconcile", s3)
    assert store.read("latest.json") is None
    assert (
        store.write("latest.json", '{"status": "reconciled"}') == "s3://firm-data-reports/reports/reconcile/latest.json"
    )
    assert json.loads(store.read("latest.json")) == {"status": "reconciled"}

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="cdclake/mongodb-reporting-uri", SecretString="mongodb://reader:pw@db/?replicaSet=rs")
    monkeypatch.delenv("CDCLAKE_MONGO_URI", raising=False)
    monkeypatch.setenv("CDCLAKE_MONGO_URI_SECRET", "cdclake/mongodb-reporting-uri")
    assert connection_string(MongoReadSettings(), secrets).endswith("replicaSet=rs")


def test_iam_policies_are_least_privilege_and_name_what_the_dag_uses() -> None:
    known = {name.upper() for name in vars(config())} | {"ACCOUNT_ID", "WAREHOUSE_BUCKET_ARN"}
    values = {name: f"value-of-{name.lower()}" for name in known}
    for path in sorted((INFRA / "iam").glob("*.json")):
        text = path.read_text()
        assert set(re.findall(r"\$\{(\w+)\}", text)) <= known, path.name
        policy = json.loads(Template(text).substitute(values))
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow" and statement["Resource"], (path.name, statement["Sid"])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], (path.name, statement["Sid"])
    mwaa = json.loads(Template((INFRA / "iam" / "mwaa-execution-role.json").read_text()).substitute(values))
    (pass_role,) = [s for s in mwaa["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == [values["GLUE_ROLE_ARN"], values["EMR_EXECUTION_ROLE_ARN"]]
    # The verdict task reads the report and records its alerts in it, nothing else of the results.
    (report,) = [s for s in mwaa["Statement"] if s["Sid"] == "ReadTheReportAndRecordItsAlerts"]
    reports = f"arn:aws:s3:::{values['REPORT_BUCKET']}/{values['REPORT_PREFIX']}/reports"
    assert report["Action"] == ["s3:GetObject", "s3:PutObject"]
    for key in ("latest/report.json", "runs/20261204T101500Z/report.html"):
        assert any(fnmatch.fnmatch(f"{reports}/{key}", resource) for resource in report["Resource"]), key
    assert not any(fnmatch.fnmatch(f"{reports}/../quality/x", resource) for resource in report["Resource"])
    (alerts,) = [s for s in mwaa["Statement"] if s["Sid"] == "SendAlerts"]
    assert (alerts["Action"], alerts["Resource"]) == (["sns:Publish"], values["ALERT_SNS_TOPIC_ARN"])


def test_the_report_goes_to_s3_with_its_data_docs_and_a_red_one_fails_the_run(aws, tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from test_report import facts, quality, reconciliation

    from cdclake.checks import ResultLocations
    from cdclake.orchestration.emr import results_uri
    from cdclake.orchestration.tasks import verdict
    from cdclake.report.publish import make_report

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="firm-data-reports", CreateBucketConfiguration={"LocationConstraint": REGION})
    settings = config()
    reports = S3Store(ResultLocations(results_uri(settings)).reports, s3)
    site = tmp_path / "data_docs" / "local_site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>GX Data Docs</html>")
    checked = quality(failing=False)
    checked.data_docs = str(site / "index.html")

    make_report(reconciliation(0, 0), checked, facts(10), reports, run_id="green-run")
    assert verdict(settings).endswith("runs/green-run/report.html")  # green: the run goes on
    page = reports.read("runs/green-run/report.html")
    assert 'href="../../data-docs/index.html"' in page
    assert reports.read("data-docs/index.html") == "<html>GX Data Docs</html>"
    head = s3.head_object(Bucket="firm-data-reports", Key="cdclake/reports/runs/green-run/report.html")
    assert head["ContentType"] == "text/html"

    make_report(reconciliation(2, 0), quality(failing=True), facts(10), reports, run_id="red-run")
    with pytest.raises(AirflowFailException, match=r"RED: 2 confirmed difference.*runs/red-run/report\.html"):
        verdict(settings)
