"""What the lake itself says about a run: events applied, how long changes waited in
landing (CDC lag), and the latest outcome of every dbt test (kept by the on-run-end hook
in macros/observability)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from ..summary import CURRENT_STATE_TABLES


@dataclass(frozen=True)
class DbtTest:
    name: str
    model: str
    status: str  # pass, fail, warn, error, skipped
    failures: int | None
    message: str | None
    recorded_at: str


@dataclass
class LakeFacts:
    """Per collection: events applied and quarantined after the previous report, and the
    lag; ``through`` is the newest apply counted (where the next report starts)."""

    through: str | None
    events_applied: dict[str, int] = field(default_factory=dict)
    events_quarantined: dict[str, int] = field(default_factory=dict)
    lag_seconds: dict[str, float | None] = field(default_factory=dict)
    dbt_tests: list[DbtTest] = field(default_factory=list)


def read_lake_facts(spark: SparkSession, schema: str, since: str | None) -> LakeFacts:
    """Applies finished after ``since`` (an ISO time; all when ``None``)."""
    after = f"and finished_at > timestamp '{dt.datetime.fromisoformat(since):%Y-%m-%d %H:%M:%S.%f}'" if since else ""
    facts = LakeFacts(through=since)
    if spark.catalog.tableExists(f"{schema}.dms_apply_log"):
        rows = spark.sql(
            f"select regexp_extract(target_table, 'current_(\\\\w+)$', 1) as collection, "
            f"sum(rows_applied + rows_superseded) as applied, sum(rows_quarantined) as quarantined, "
            f"max(finished_at) as through "
            f"from {schema}.dms_apply_log where true {after} group by 1"
        ).collect()
        for row in rows:
            facts.events_applied[row["collection"]] = int(row["applied"] or 0)
            facts.events_quarantined[row["collection"]] = int(row["quarantined"] or 0)
        newest = max((row["through"] for row in rows if row["through"]), default=None)
        facts.through = newest.isoformat() if newest else since
    if spark.catalog.tableExists(f"{schema}.dms_applied_files"):
        applied_after = after.replace("finished_at", "applied_at")
        for row in spark.sql(
            f"select regexp_extract(target_table, 'current_(\\\\w+)$', 1) as collection, "
            f"max(unix_timestamp(applied_at) - unix_timestamp(file_modified_at)) as lag "
            f"from {schema}.dms_applied_files where quarantine_reason is null {applied_after} group by 1"
        ).collect():
            facts.lag_seconds[row["collection"]] = float(row["lag"]) if row["lag"] is not None else None
    for collection in CURRENT_STATE_TABLES:
        facts.events_applied.setdefault(collection, 0)
        facts.events_quarantined.setdefault(collection, 0)
        facts.lag_seconds.setdefault(collection, None)
    if spark.catalog.tableExists(f"{schema}.dbt_test_results"):
        facts.dbt_tests = [
            DbtTest(
                r["test_name"], r["model_name"], r["status"], r["failures"], r["message"], r["recorded_at"].isoformat()
            )
            for r in spark.sql(
                f"select * from (select *, row_number() over (partition by test_id order by recorded_at desc) as n "
                f"from {schema}.dbt_test_results) where n = 1 order by model_name, test_name"
            ).collect()
        ]
    return facts
