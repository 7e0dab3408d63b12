"""The callables the DAG's tasks run. Each imports what it needs when it runs, so that
parsing the DAG starts no Spark, opens no connection and reads no file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..settings import Paths
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
    from ..catalog import load_catalog

    paths = Paths.from_env()
    new = landed_since(local_modified_times(paths.landing, load_catalog(paths)), watermark)
    print(f"landing files since {watermark or 'the first run'}: {'yes' if new else 'none'}")
    return new


def record_watermark(dag_run: Any) -> str:
    """After dbt succeeded: every file landed before this run started has been applied."""
    from airflow.sdk import Variable

    watermark = dag_run.start_date.isoformat()
    Variable.set(WATERMARK_VARIABLE, watermark)
    return watermark


def run_checks_locally(modes: str, run_id: str) -> str:
    """Great Expectations, reconciliation and the report, in this process: against MongoDB
    when ``CDCLAKE_MONGO_URI`` (or its secret) is set, else against the mongodump snapshot.
    Each run samples other documents (the seed follows the run). Returns the report's path."""
    import os

    from ..checks import run_checks
    from ..reconcile.progress import Progress
    from ..reconcile.recheck import InFlightLimit
    from ..reconcile.run import Options, parse_modes
    from ..reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource

    paths = Paths.from_env()
    live = os.environ.get("CDCLAKE_MONGO_URI") or os.environ.get("CDCLAKE_MONGO_URI_SECRET")
    source = MongoSource(MongoReadSettings()) if live else SnapshotSource(paths.snapshot)
    options = Options(
        modes=parse_modes([modes]),
        seed=run_seed(run_id),
        live_source=bool(live),
        in_flight_limit=InFlightLimit.from_env(),
    )
    return run_checks(paths, source, options, progress=Progress(enabled=True)).html


def run_maintenance_locally() -> int:
    """Iceberg upkeep of every table of the lake's schema; returns how many were done."""
    from ..maintenance import MaintenanceSettings, lake_schema, maintain_lake
    from ..spark import get_or_create_session

    paths = Paths.from_env()
    settings, schema = MaintenanceSettings.from_env(), lake_schema(paths)
    done = maintain_lake(get_or_create_session(paths), schema, settings)
    left = [upkeep.table for upkeep in done if upkeep.skipped]
    if left:
        print(f"left for the next run (an apply committed meanwhile): {', '.join(left)}")
    return len(done) - len(left)


def run_seed(run_id: str) -> int:
    """A sample seed of the run: reproducible for the run, different across runs."""
    return int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=4).digest(), "big")


def results_location(config: PipelineConfig) -> str:
    """Where the checks leave results and reports: S3 on AWS, the data directory locally."""
    if config.environment == "aws":
        from .emr import results_uri

        return results_uri(config)
    return str(Paths.from_env().data_dir)


def verdict(config: PipelineConfig) -> str:
    """Read the report the checks just published, alert as configured (alerts.py), and
    fail the run, saying why and where to look, when it is red (confirmed discrepancies,
    failing dbt tests or expectations)."""
    from airflow.sdk.exceptions import AirflowFailException

    from ..checks import ResultLocations
    from ..report.publish import run_folder
    from ..storage import store_for
    from .alerts import AlertSettings, send_alerts

    settings = AlertSettings.from_config(config)  # a wrong setting stops before anything is sent
    reports = ResultLocations(results_location(config)).reports
    store = store_for(reports)
    text = store.read("latest/report.json")
    if text is None:
        raise AirflowFailException(f"no report in {reports}/latest: did the checks task run?")
    report = json.loads(text)
    where = f"{reports}/{run_folder(report['run_id'])}/report.html"
    outcomes = send_alerts(report, where, settings)
    if outcomes:
        record_alerts(store, report, outcomes)
    if report["status"] == "red":
        raise AirflowFailException(f"data quality is RED: {report['reason']} Report: {where}")
    print(f"data quality is {report['status'].upper()}: {report['reason']} Report: {where}")
    return where


def record_alerts(store, report: dict, outcomes) -> None:
    """Write the alerts a run sent into its published report: ``alerts`` in report.json and
    a banner on the page (its own folder, and latest/ while it is the newest)."""
    from ..report.publish import run_folder
    from ..report.render import with_alerts
    from .alerts import as_dicts

    sent = as_dicts(outcomes)
    for folder in (run_folder(report["run_id"]), "latest"):
        published = store.read(f"{folder}/report.json")
        if published is None or json.loads(published).get("run_id") != report["run_id"]:
            continue
        store.write(f"{folder}/report.json", json.dumps({**json.loads(published), "alerts": sent}, indent=2))
        page = store.read(f"{folder}/report.html")
        if page is not None:
            store.write(f"{folder}/report.html", with_alerts(page, sent))
