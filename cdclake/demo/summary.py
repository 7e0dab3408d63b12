"""The short run summary printed after a pipeline run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..catalog import Catalog, load_catalog
from ..dbt_runner import DbtOutcome
from ..names import sql_string
from ..settings import Paths, target_schema
from ..spark import get_or_create_session

if TYPE_CHECKING:
    from ..report.facts import QuarantinedFile

FILES_SHOWN = 5  # quarantined files named per collection; the rest are counted


def current_state_counts(catalog: Catalog, schema: str | None = None) -> dict[str, tuple[int, int]]:
    """Live documents and tombstones per current-state table."""
    schema = schema or target_schema()
    spark = get_or_create_session()
    counts = {}
    for collection in catalog:
        row = spark.sql(
            f"select count_if(not is_deleted) as live, count_if(is_deleted) as deleted from {collection.table(schema)}"
        ).first()
        counts[collection.name] = (row["live"], row["deleted"])
    return counts


def applied_this_run(invocation_ids: list[str], schema: str | None = None) -> dict[str, int]:
    """What a run's dbt invocations did to the current state: files and rows, by outcome."""
    schema = schema or target_schema()
    row = (
        get_or_create_session()
        .sql(
            f"select coalesce(sum(files_new), 0) as files, coalesce(sum(files_quarantined), 0) as files_quarantined, "
            f"coalesce(sum(rows_landed), 0) as landed, coalesce(sum(rows_applied), 0) as applied, "
            f"coalesce(sum(rows_superseded), 0) as superseded, coalesce(sum(rows_quarantined), 0) as quarantined "
            f"from {schema}.dms_apply_log where invocation_id in ({', '.join(map(sql_string, invocation_ids))})"
        )
        .first()
    )
    return row.asDict()


def quarantined(
    catalog: Catalog, invocation_ids: list[str] | None = None, schema: str | None = None
) -> dict[str, list[QuarantinedFile]]:
    """Per collection, the landing files in ``dms_quarantine`` (whole, or some of their
    rows): those a run's dbt invocations put there, or all of them."""
    from ..report.lake_facts import read_quarantine

    schema = schema or target_schema()
    spark = get_or_create_session()
    if not spark.catalog.tableExists(f"{schema}.dms_quarantine"):
        return {}
    return read_quarantine(spark, schema, catalog, invocation_ids)


def format_quarantine(this_run: dict[str, list[QuarantinedFile]], held: dict[str, list[QuarantinedFile]]) -> list[str]:
    """What this run quarantined, per collection and file, then what is held in all (every
    run so far: the report stays amber while anything is)."""

    def counts(files: list[QuarantinedFile]) -> str:
        whole = sum(1 for f in files if f.whole_file)
        return f"{sum(f.rows for f in files):,} row(s) and {whole} whole file(s)"

    this_run = {name: files for name, files in sorted(this_run.items()) if files}
    held = {name: files for name, files in sorted(held.items()) if files}
    if not this_run:
        lines = ["quarantined this run: nothing"]
    else:
        lines = [f"quarantined this run: {counts([f for files in this_run.values() for f in files])}"]
        for name, files in this_run.items():
            lines.append(f"  {name}: {counts(files)}")
            for file in files[:FILES_SHOWN]:
                what = "whole file (unreadable)" if file.whole_file else f"{file.rows:,} row(s)"
                lines.append(f"    {file.name}: {what} — {'; '.join(file.reasons)}")
            if len(files) > FILES_SHOWN:
                lines.append(f"    … and {len(files) - FILES_SHOWN} more file(s)")
    if held:
        lines.append(
            "held in quarantine, all runs (not in the lake; the report stays amber): "
            + "; ".join(f"{name} {counts(files)}" for name, files in held.items())
        )
    return lines


def drift_findings(schema: str | None = None) -> list[str]:
    schema = schema or target_schema()
    rows = get_or_create_session().sql(f"select * from {schema}.schema_drift").collect()
    return [f"{r['collection_name']}.{r['field_name']}: {r['drift']} ({r['field_types']})" for r in rows]


def print_run_summary(paths: Paths, outcome: DbtOutcome, source_counts: dict[str, int]) -> None:
    run = applied_this_run(outcome.invocation_ids)
    print()
    print("=" * 64)
    print(
        f"dbt build: {'OK' if outcome.success else 'FAILED'}   "
        f"models {outcome.count('success')} ok, tests {outcome.count('pass')} passed, "
        f"{outcome.count('fail', 'error')} failed, {outcome.count('warn')} warned"
    )
    print(f"applied this run: {run['landed']:,} events from {run['files']} new landing file(s)")
    print(
        f"  = {run['applied']:,} applied + {run['superseded']:,} superseded by newer events"
        f" + {run['quarantined']:,} quarantined; {run['files_quarantined']} file(s) quarantined"
    )
    print(f"{'collection':<18}{'table rows':>12}{'tombstones':>12}{'source docs':>13}")
    catalog = load_catalog(paths)
    for collection, (live, deleted) in current_state_counts(catalog).items():
        print(f"{collection:<18}{live:>12,}{deleted:>12,}{source_counts.get(collection, 0):>13,}")
    for line in format_quarantine(quarantined(catalog, outcome.invocation_ids), quarantined(catalog)):
        print(line)
    findings = drift_findings()
    print(f"schema drift: {len(findings)} finding(s)" + "".join(f"\n  {finding}" for finding in findings))
    print(f"warehouse: {paths.warehouse}")
    print("=" * 64)
    if run["quarantined"] or run["files_quarantined"]:
        print("Quarantined input is in the table dms_quarantine, with file, row, reason and raw values.")
    if outcome.error:
        print(f"dbt error: {outcome.error}")
