"""The pipeline's environment-specific settings, from the environment (MWAA: startup
script or configuration options). The EMR virtual cluster and job role can also be
overridden at run time by the Airflow Variables ``cdclake_emr_virtual_cluster_id`` and
``cdclake_emr_execution_role_arn`` (see ``variable``).
No credentials here: AWS access comes from the worker's and jobs' roles, the MongoDB URI
from a Secrets Manager secret the reconciliation job reads with its own role.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class PipelineConfig:
    environment: str = "local"  # "local": embedded defaults; "aws": S3, Glue, EMR on EKS
    schedule_minutes: int = 15
    # Each run: cheap checks whose cost follows the changes. Add "full" (one scan of every
    # collection on the secondary) here, or run `cdclake reconcile --mode full` nightly.
    reconcile_modes: str = "counts,changed,sample"
    # Iceberg upkeep of every table (cdclake/maintenance.py), a DAG of its own on the local
    # stack; on AWS, Glue's table optimizers do it (infra/glue/table-optimizers.json).
    maintenance_schedule: str = "@daily"
    # Alerts (cdclake/orchestration/alerts.py): on "red" runs, or "amber" for amber and red,
    # through the Airflow connections and topics named here (none: no alert).
    alert_on: str = "red"
    alert_slack_conn_id: str = ""
    alert_sns_topic_arn: str = ""
    alert_email_to: str = ""  # comma-separated addresses, through the smtp_default connection
    # AWS (environment "aws")
    region: str = ""
    landing_bucket: str = ""
    landing_prefix: str = "dms"
    # The landing folder as dbt and the checks' Spark read it, when not the bucket and prefix
    # the sensors list (an access point alias; the rehearsal's local copy): the same setting
    # as the local environment's landing folder.
    landing_root: str = ""
    report_bucket: str = ""
    report_prefix: str = "cdclake"  # every result of the checks: quality/, reconcile/, reports/
    glue_role_arn: str = ""
    glue_database: str = "ledger"
    warehouse_uri: str = ""
    emr_virtual_cluster_id: str = ""
    emr_execution_role_arn: str = ""
    emr_release_label: str = "emr-7.9.0-latest"
    emr_job_script_uri: str = ""
    mongo_uri_secret: str = "cdclake/mongodb-reporting-uri"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PipelineConfig:
        """``CDCLAKE_<SETTING>`` for each field, e.g. ``CDCLAKE_LANDING_BUCKET``."""
        values = {}
        for item in fields(cls):
            name = f"CDCLAKE_{item.name.upper()}"
            raw = env.get(name)
            if raw is not None and item.type == "int":
                if not raw.isdigit():
                    raise ValueError(f"{name}={raw!r}: expected a whole number")
                values[item.name] = int(raw)
            elif raw is not None:
                values[item.name] = raw
        config = cls(**values)
        if config.environment not in {"local", "aws"}:
            raise ValueError(f"CDCLAKE_ENVIRONMENT={config.environment!r}: use 'local' or 'aws'")
        if config.environment == "aws" and config.missing_for_aws():
            raise ValueError(f"CDCLAKE_ENVIRONMENT=aws needs {', '.join(config.missing_for_aws())}")
        return config

    @property
    def landing_uri(self) -> str:
        """Where dbt and the checks read the landed files."""
        return self.landing_root or f"s3://{self.landing_bucket}/{self.landing_prefix}"

    @property
    def scratch_uri(self) -> str:
        """Where an apply stages its checked rows: a prefix beside the Iceberg warehouse."""
        return f"{self.warehouse_uri.rstrip('/')}/_cdc_scratch"

    def missing_for_aws(self) -> list[str]:
        required = (
            "region",
            "landing_bucket",
            "report_bucket",
            "glue_role_arn",
            "warehouse_uri",
            "emr_virtual_cluster_id",
            "emr_execution_role_arn",
            "emr_job_script_uri",
        )
        return [f"CDCLAKE_{name.upper()}" for name in required if not getattr(self, name)]

    def variable(self, name: str) -> str:
        """A template for a templated field: the Variable ``cdclake_<name>`` if set, else
        this setting (rendered when the task runs, so parsing reads no Variable). Used
        only for settings that nothing else reads: the EMR virtual cluster and job role."""
        return f"{{{{ var.value.get('cdclake_{name}', '{getattr(self, name)}') }}}}"
