"""cdclake maintenance: nightly Iceberg upkeep of every table of the lake (compaction with
deletes folded in, manifests, snapshot expiry, orphan files; cdclake/maintenance.py).

It may run while the pipeline applies a batch: each procedure commits on its own, a
rewrite that meets an apply's commit is refused by Iceberg and left for the next night,
and an apply refused because a rewrite committed first runs again (cdclake.dbt_runner;
tests/python/test_maintenance.py). Only on the local stack: on AWS, Glue's table
optimizers do the same work for the Glue Data Catalog's tables (infra/glue/).

Settings (README, "Maintenance"): ``CDCLAKE_MAINTENANCE_SCHEDULE`` (default ``@daily``),
``CDCLAKE_SNAPSHOT_RETENTION_DAYS``, ``CDCLAKE_KEEP_LAST_SNAPSHOTS``,
``CDCLAKE_ORPHAN_FILE_AGE_DAYS``, ``CDCLAKE_LONGEST_RUN_HOURS``.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from cdclake.orchestration import tasks
from cdclake.orchestration.config import PipelineConfig
from cdclake.orchestration.notify import TaskFailureAlert

CONFIG = PipelineConfig.from_env()

if CONFIG.environment == "local":
    with DAG(
        dag_id="cdclake_maintenance",
        description="Nightly Iceberg upkeep of every table: compaction, manifests, snapshot expiry, orphan files",
        schedule=CONFIG.maintenance_schedule,
        start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "data-platform",
            "retries": 1,
            "execution_timeout": dt.timedelta(hours=4),
            "on_failure_callback": TaskFailureAlert(CONFIG),  # a failed night tells the alert channels
        },
        tags=["cdclake", "iceberg", "maintenance"],
        doc_md=__doc__,
    ):
        PythonOperator(
            task_id="maintain_tables",
            python_callable=tasks.run_maintenance_locally,
            pre_execute=tasks.ensure_local_spark,
        )
