"""The short run summary printed after a pipeline run."""

from __future__ import annotations

from .settings import Paths, target_schema
from .spark import get_or_create_session
from .transform import DbtOutcome

CURRENT_STATE_TABLES = ("clients", "engagements", "invoices", "journal_entries")


def current_state_counts(schema: str | None = None) -> dict[str, tuple[int, int]]:
    """Live documents and tombstones per current-state table."""
    schema = schema or target_schema()
    spark = get_or_create_session()
    counts = {}
    for collection in CURRENT_STATE_TABLES:
        row = spark.sql(
            f"select count_if(not is_deleted) as live, count_if(is_deleted) as deleted "
            f"from {schema}.current_{collection}"
        ).first()
        counts[collection] = (row["live"], row["deleted"])
    return counts


def applied_this_run(invocation_id: str, schema: str | None = None) -> tuple[int, int]:
    """(files, events) recorded as applied by one dbt invocation."""
    schema = schema or target_schema()
    row = (
        get_or_create_session()
        .sql(
            f"select count(*) as files, coalesce(sum(row_count), 0) as events "
            f"from {schema}.dms_applied_files where invocation_id = '{invocation_id}'"
        )
        .first()
    )
    return row["files"], row["events"]


def print_run_summary(paths: Paths, outcome: DbtOutcome, source_counts: dict[str, int]) -> None:
    files, events = applied_this_run(outcome.invocation_id)
    print()
    print("=" * 64)
    print(
        f"dbt build: {'OK' if outcome.success else 'FAILED'}   "
        f"models {outcome.count('success')} ok, tests {outcome.count('pass')} passed, "
        f"{outcome.count('fail', 'error')} failed, {outcome.count('warn')} warned"
    )
    print(f"applied this run: {events:,} events from {files} new landing file(s)")
    print(f"{'collection':<18}{'table rows':>12}{'tombstones':>12}{'source docs':>13}")
    for collection, (live, deleted) in current_state_counts().items():
        print(f"{collection:<18}{live:>12,}{deleted:>12,}{source_counts.get(collection, 0):>13,}")
    print(f"warehouse: {paths.warehouse}")
    print("=" * 64)
    if outcome.error:
        print(f"dbt error: {outcome.error}")
