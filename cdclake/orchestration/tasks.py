"""The callables the DAG's tasks run. Each imports what it needs when it runs, so that
parsing the DAG starts no Spark, opens no connection and reads no file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..settings import DATABASE, Paths
from .config import PipelineConfig
from .landing_watch import WATERMARK_VARIABLE, landed_since, local_modified_times, parse_watermark


def ensure_local_spark(context: Any) -> None:
    """``pre_execute`` of the dbt tasks on the local target: dbt-spark's session method
    picks up the process's session, which must carry the Iceberg catalog."""
    from ..spark import get_or_create_session

    get_or_create_session(Paths.from_env())


def landed_since_last_apply() -> bool:
    """Short-circuit of the local DAG: skip dbt and the checks when nothing new landed."""
    from airflow.sdk import Variable

    watermark = parse_watermark(Variable.get(WATERMARK_VARIABLE, default=None))
    new = landed_since(local_modified_times(Paths.from_env().landing, DATABASE), watermark)
    print(f"landing files since {watermark or 'the first run'}: {'yes' if new else 'none'}")
    return new


def record_watermark(dag_run: Any) -> str:
    """After dbt succeeded: every file landed before this run started has been applied."""
    from airflow.sdk import Variable

    watermark = dag_run.start_date.isoformat()
    Variable.set(WATERMARK_VARIABLE, watermark)
    return watermark


def reconcile_locally(modes: str, run_id: str) -> str:
    """Reconcile in this process: against MongoDB when ``CDCLAKE_MONGO_URI`` (or its
    secret) is set, else against the mongodump snapshot. Each run samples other
    documents (the seed follows the run). Returns where the result is."""
    import os

    from ..reconcile.command import reconcile_and_save
    from ..reconcile.progress import Progress
    from ..reconcile.run import Options
    from ..reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource

    paths = Paths.from_env()
    live = os.environ.get("CDCLAKE_MONGO_URI") or os.environ.get("CDCLAKE_MONGO_URI_SECRET")
    source = MongoSource(MongoReadSettings()) if live else SnapshotSource(paths.snapshot)
    options = Options(modes=tuple(modes.split(",")), seed=run_seed(run_id), live_source=bool(live))
    _, location = reconcile_and_save(paths, source, options, Progress(enabled=True))
    return location


def run_seed(run_id: str) -> int:
    """A sample seed of the run: reproducible for the run, different across runs."""
    return int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=4).digest(), "big")


def publish_results(state_location: str, config: PipelineConfig) -> str:
    """Copy the latest reconciliation result where stakeholders look, then fail the run,
    saying why and where to look, if it holds confirmed discrepancies."""
    from airflow.exceptions import AirflowFailException

    from ..reconcile.state import StateFiles
    from ..storage import store_for

    result = StateFiles(state_location).latest()
    if result is None:
        raise AirflowFailException(f"no reconciliation result in {state_location}: did the reconcile task run?")
    target = store_for(
        f"s3://{config.report_bucket}/{config.report_prefix}"
        if config.environment == "aws"
        else Paths.from_env().data_dir / "reports"
    )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    published = target.write(f"reconciliation/{result['started_at'][:19].replace(':', '')}.json", text)
    target.write("reconciliation/latest.json", text)
    confirmed = [f"{c['collection']} ({c['mode']})" for c in result["checks"] if c["status"] == "discrepancies"]
    if confirmed:
        raise AirflowFailException(
            f"reconciliation found confirmed discrepancies in {', '.join(confirmed)}: see {published}"
        )
    print(f"reconciliation {result['status']}: {published}")
    return published
