"""What the lake itself says about a run: events applied, how long changes waited in
landing (CDC lag), what is held in quarantine, and the latest outcome of every dbt test
(kept by the on-run-end hook in macros/observability)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from ..catalog import Catalog
from ..maintenance import MaintenanceSettings, table_health
from ..spark import as_utc
from .anomalies import Freshness
from .facts import DbtTest, LakeFacts, QuarantinedFile

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def read_lake_facts(spark: SparkSession, schema: str, since: str | None, catalog: Catalog) -> LakeFacts:
    """Applies finished after ``since`` (an ISO time; all when ``None``), per collection of
    ``catalog``; a source no longer in it is shown under its own name."""
    after = f"and finished_at > timestamp '{dt.datetime.fromisoformat(since):%Y-%m-%d %H:%M:%S.%f}'" if since else ""
    facts = LakeFacts(
        through=since,
        collections=list(catalog.names()),
        table_collections=catalog.table_collections(),
        model_ids=catalog.model_ids(),
    )
    name_of = _collection_names(catalog)
    if spark.catalog.tableExists(f"{schema}.dms_apply_log"):
        rows = spark.sql(
            f"select source_name, "
            f"sum(rows_applied + rows_superseded) as applied, sum(rows_quarantined) as quarantined, "
            f"sum(files_quarantined) as files_quarantined, max(finished_at) as through "
            f"from {schema}.dms_apply_log where true {after} group by 1"
        ).collect()
        for row in rows:
            collection = name_of(row["source_name"])
            facts.events_applied[collection] = int(row["applied"] or 0)
            facts.events_quarantined[collection] = int(row["quarantined"] or 0)
            facts.files_quarantined[collection] = int(row["files_quarantined"] or 0)
        for row in spark.sql(
            f"select source_name, "
            f"sum(rows_landed - rows_applied - rows_superseded - rows_quarantined) as unaccounted "
            f"from {schema}.dms_apply_log group by 1"
        ).collect():
            facts.unaccounted[name_of(row["source_name"])] = int(row["unaccounted"] or 0)
        for row in spark.sql(
            f"select source_name, max(finished_at) as at from {schema}.dms_apply_log where rows_applied > 0 group by 1"
        ).collect():
            facts.last_change_applied[name_of(row["source_name"])] = as_utc(row["at"]).isoformat()
        newest = max((row["through"] for row in rows if row["through"]), default=None)
        facts.through = newest.isoformat() if newest else since
    if spark.catalog.tableExists(f"{schema}.dms_applied_files"):
        applied_after = after.replace("finished_at", "applied_at")
        for row in spark.sql(
            f"select source_name, "
            f"max(unix_timestamp(applied_at) - unix_timestamp(file_modified_at)) as lag "
            f"from {schema}.dms_applied_files where quarantine_reason is null {applied_after} group by 1"
        ).collect():
            facts.lag_seconds[name_of(row["source_name"])] = float(row["lag"]) if row["lag"] is not None else None
    if spark.catalog.tableExists(f"{schema}.dms_quarantine"):
        facts.quarantine = read_quarantine(spark, schema, catalog)
    for collection in catalog:
        facts.freshness[collection.name] = Freshness(collection.warn_after, collection.error_after)
    for collection in catalog.names():
        facts.last_change_applied.setdefault(collection, None)
        facts.events_applied.setdefault(collection, 0)
        facts.events_quarantined.setdefault(collection, 0)
        facts.files_quarantined.setdefault(collection, 0)
        facts.quarantine.setdefault(collection, [])
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
    facts.tables = table_health(spark, schema, MaintenanceSettings.from_env())
    return facts


def read_quarantine(
    spark: SparkSession, schema: str, catalog: Catalog, invocation_ids: list[str] | None = None
) -> dict[str, list[QuarantinedFile]]:
    """Everything in ``dms_quarantine`` (or what some dbt invocations put there), per
    collection and file. A file read again after a crash quarantines its rows again: rows
    are counted once per file and row."""
    name_of = _collection_names(catalog)
    found: dict[str, list[QuarantinedFile]] = {}
    query = (
        spark.table(f"{schema}.dms_quarantine")
        .where(F.col("invocation_id").isin(invocation_ids) if invocation_ids else F.lit(True))
        .groupBy("source_name", "file_path")
        .agg(
            F.bool_or(F.col("source_row").isNull()).alias("whole_file"),
            F.count_distinct("source_row").alias("rows"),
            F.array_sort(F.collect_set("reason")).alias("reasons"),
            F.min("quarantined_at").alias("first_quarantined_at"),
        )
        .orderBy("file_path")
    )
    for row in query.collect():
        collection = name_of(row["source_name"])
        found.setdefault(collection, []).append(
            QuarantinedFile(
                path=row["file_path"] or "(unknown file)",
                whole_file=bool(row["whole_file"]),
                rows=int(row["rows"]),
                reasons=tuple(reason for reason in row["reasons"] if reason),
                first_quarantined_at=row["first_quarantined_at"].isoformat() if row["first_quarantined_at"] else "",
            )
        )
    return found


def _collection_names(catalog: Catalog):
    """dbt source (as the bookkeeping records it) → the collection's name; a source no
    longer in the catalog keeps its table's name, so its rows are still shown."""
    by_source = catalog.by_source()

    def name_of(source_name: str) -> str:
        found = by_source.get(source_name)
        return found.name if found else source_name.rpartition(".")[2]

    return name_of
