"""The pipeline's environment-specific settings, from the environment (MWAA: startup
script or configuration options). Airflow Variables named ``cdclake_<setting>`` override
them at run time wherever a field is templated (see ``variable``).
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
    # AWS (environment "aws")
    region: str = ""
    landing_bucket: str = ""
    landing_prefix: str = "dms"
    report_bucket: str = ""
    report_prefix: str = "reports"
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
            raw = env.get(f"CDCLAKE_{item.name.upper()}")
            if raw is not None:
                values[item.name] = int(raw) if item.type == "int" else raw
        config = cls(**values)
        if config.environment not in {"local", "aws"}:
            raise ValueError(f"CDCLAKE_ENVIRONMENT={config.environment!r}: use 'local' or 'aws'")
        return config

    @property
    def landing_uri(self) -> str:
        return f"s3://{self.landing_bucket}/{self.landing_prefix}"

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
        this setting (rendered when the task runs, so parsing reads no Variable)."""
        return f"{{{{ var.value.get('cdclake_{name}', '{getattr(self, name)}') }}}}"
