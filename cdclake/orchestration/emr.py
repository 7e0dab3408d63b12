"""The checks job on EMR on EKS (Great Expectations, reconciliation, report): the job spec
is infra/emr/checks-job.json, read and filled when the task runs (never while the DAG is
parsed)."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

from airflow.providers.amazon.aws.operators.emr import EmrContainerOperator

from ..settings import dbt_project_dir
from .config import PipelineConfig
from .tasks import run_seed


def job_spec_path() -> Path:
    """``infra/emr/checks-job.json`` of the project the DAG runs (CDCLAKE_DBT_PROJECT_DIR)."""
    return dbt_project_dir() / "infra" / "emr" / "checks-job.json"


def results_uri(config: PipelineConfig) -> str:
    """Where the job keeps every result and report between runs (see cdclake.checks)."""
    return f"s3://{config.report_bucket}/{config.report_prefix}"


def job_spec(config: PipelineConfig, seed: int) -> dict[str, Any]:
    """The job spec with its ``${NAME}`` placeholders filled; unknown names are an error."""
    values = {name.upper(): str(value) for name, value in vars(config).items()}
    values["SEED"] = str(seed)
    values["RESULTS_URI"] = results_uri(config)
    values["LANDING_URI"] = config.landing_uri
    values["EMR_JOB_SCRIPT_URI_DIR"] = config.emr_job_script_uri.rpartition("/")[0]
    return json.loads(Template(job_spec_path().read_text()).substitute(values))


class ChecksOnEmr(EmrContainerOperator):
    """EmrContainerOperator whose job driver and configuration come from the repo's spec."""

    def __init__(self, *, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(job_driver={}, configuration_overrides={}, release_label=config.emr_release_label, **kwargs)
        self.config = config

    def execute(self, context: Any) -> str | None:
        spec = job_spec(self.config, run_seed(context.get("run_id", "")))
        self.job_driver, self.configuration_overrides = spec["jobDriver"], spec["configurationOverrides"]
        return super().execute(context)
