"""cdclake: new DMS files in → dbt → checks → published results.

1. Wait for DMS files that landed since the last successful apply, one sensor per
   collection of the dbt project (its catalog, read from the manifest), watching that
   collection's prefix: S3KeySensor on S3
   (``check_fn`` compares their LastModified with the watermark), FileSensor plus a
   short-circuit on the local landing folder. Nothing new: dbt and the checks are skipped.
2. dbt through astronomer-cosmos, one task per model and its tests: the local Spark
   target by default, the Glue target (dbt-glue) on AWS.
3. The checks: Great Expectations on the tables, reconciliation against MongoDB
   secondaries, and the data-quality report published beside the earlier ones (local
   folder or S3); in this worker locally, on AWS a Spark job on EMR on EKS (job spec in
   infra/emr/).
4. The verdict: the run fails, saying why and where the report is, when it is red.

Settings: ``cdclake.orchestration.config`` (README, "Airflow"). ``max_active_runs=1``: two
runs must never merge into the same tables at once.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator, ShortCircuitOperator
from airflow.sdk import DAG, task
from airflow.utils.trigger_rule import TriggerRule
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from cdclake.catalog import load_catalog, manifest_path
from cdclake.dbt_runner import dbt_environment
from cdclake.orchestration import landing_watch, tasks
from cdclake.orchestration.config import PipelineConfig
from cdclake.orchestration.notify import TaskFailureAlert
from cdclake.settings import Paths, dbt_project_dir

CONFIG = PipelineConfig.from_env()
PATHS = Paths.from_env()
CATALOG = load_catalog(PATHS)  # the collections of the dbt project, from its manifest
ON_AWS = CONFIG.environment == "aws"

default_args = {
    "owner": "data-platform",
    "retries": 2,  # S3 listings and Glue sessions fail transiently; a MERGE rerun is safe
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=1),
    # A task that fails for good tells the alert channels (a crash publishes no report).
    "on_failure_callback": TaskFailureAlert(CONFIG),
}

with DAG(
    dag_id="cdclake_pipeline",
    description="DMS landing → dbt (Iceberg current state) → GX + reconciliation → data-quality report",
    schedule=dt.timedelta(minutes=CONFIG.schedule_minutes),
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=3),
    default_args=default_args,
    tags=["cdclake", "dms", "dbt", "great-expectations", "reconciliation"],
    doc_md=__doc__,
) as dag:
    # One sensor per collection of the dbt project (its landing prefix); any of them
    # finding a new file opens the gate.
    if ON_AWS:
        from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

        sensors = [
            S3KeySensor(
                task_id=landing_watch.sensor_task_id(collection),
                bucket_name=CONFIG.landing_bucket,
                bucket_key=landing_watch.s3_key_pattern(CONFIG.landing_prefix, collection),
                wildcard_match=True,
                check_fn=landing_watch.s3_files_are_new,
                metadata_keys=["Key", "LastModified"],
                mode="reschedule",
                poke_interval=120,
                timeout=dt.timedelta(minutes=CONFIG.schedule_minutes).total_seconds(),
                soft_fail=True,  # nothing new before the next run is due: skip, not fail
            )
            for collection in CATALOG
        ]
        gate = EmptyOperator(task_id="new_dms_files", trigger_rule=TriggerRule.ONE_SUCCESS)
    else:
        from airflow.providers.standard.sensors.filesystem import FileSensor

        sensors = [
            FileSensor(
                task_id=landing_watch.sensor_task_id(collection),
                fs_conn_id="fs_default",
                filepath=landing_watch.local_file_pattern(PATHS.landing, collection),
                recursive=True,
                poke_interval=30,
                timeout=dt.timedelta(minutes=CONFIG.schedule_minutes).total_seconds(),
                mode="reschedule",
                soft_fail=True,
            )
            for collection in CATALOG
        ]
        gate = ShortCircuitOperator(
            task_id="new_files_since_last_apply",
            python_callable=tasks.landed_since_last_apply,
            trigger_rule=TriggerRule.ONE_SUCCESS,
        )
    sensors >> gate

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            manifest_path=manifest_path(PATHS),
            project_name="cdclake",
        ),
        profile_config=ProfileConfig(
            profile_name="cdclake",
            target_name="glue" if ON_AWS else "local",
            profiles_yml_filepath=dbt_project_dir() / "profiles" / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_project_path=dbt_project_dir(),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            # A test of two models (a relationship, the line sums) runs once both are built.
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            "env": dbt_environment(PATHS)
            | (
                {"CDCLAKE_LANDING_ROOT": CONFIG.landing_uri, "CDCLAKE_SCRATCH_ROOT": CONFIG.scratch_uri}
                if ON_AWS
                else {}
            ),
            "install_deps": False,  # no dbt packages: the macros are the project's own
            **({} if ON_AWS else {"pre_execute": tasks.ensure_local_spark}),
        },
    )

    @task
    def record_watermark(dag_run=None) -> str:
        return tasks.record_watermark(dag_run)

    if ON_AWS:
        from cdclake.orchestration.emr import ChecksOnEmr

        checks = ChecksOnEmr(
            task_id="checks",
            name="cdclake-checks",
            config=CONFIG,
            virtual_cluster_id=CONFIG.variable("emr_virtual_cluster_id"),
            execution_role_arn=CONFIG.variable("emr_execution_role_arn"),
            poll_interval=60,
            max_polling_attempts=120,  # 2 hours of polling, as long as the task may run
            execution_timeout=dt.timedelta(hours=2),
        )
    else:
        checks = PythonOperator(
            task_id="checks",
            python_callable=tasks.run_checks_locally,
            op_kwargs={"modes": CONFIG.reconcile_modes},
            pre_execute=tasks.ensure_local_spark,
        )

    @task(retries=0)  # a verdict, not a transient failure
    def verdict() -> str:
        return tasks.verdict(CONFIG)

    # A failing dbt test is a finding for the report, not a reason to skip it: the checks
    # run once every dbt task has finished, unless dbt was skipped (nothing new landed).
    checks.trigger_rule = TriggerRule.NONE_SKIPPED
    for dbt_task in dag.tasks:
        if dbt_task.task_id.startswith(f"{dbt.group_id}.") and dbt_task.task_id.endswith("test"):
            dbt_task.retries = 0  # a failing data test is a verdict; rerunning it changes nothing

    gate >> dbt >> [record_watermark(), checks]
    checks >> verdict()
