"""Iceberg table upkeep: compaction, manifests, snapshot expiry and orphan files.

Every apply adds small data files, deletion vectors and a snapshot to each table it
touches, and every mart rebuild a snapshot; left alone, scans slow down and storage only
grows. One maintenance run, for every Iceberg table in the lake's schema (discovered, not
listed: current state, marts, monitoring and bookkeeping alike):

1. ``rewrite_data_files``: small files bin-packed, deletion vectors and position deletes
   folded into the data (``delete-file-threshold`` 1);
2. ``rewrite_manifests``;
3. ``expire_snapshots`` older than the retention, always keeping the last few (time
   travel within the retention keeps working);
4. ``remove_orphan_files`` older than a window longer than the longest run, so a file a
   running apply has written but not committed yet is never taken.

Each procedure commits on its own, so a run stopped midway leaves every table readable
(an Iceberg commit is atomic), and one that meets a concurrent apply retries or loses
its own commit, never the apply's. Each table's outcome goes to ``dms_maintenance_log``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .catalog import load_catalog
from .iceberg import is_commit_conflict
from .names import checked_schema, sql_identifier, sql_string
from .settings import Paths, target_schema

LOG_TABLE = "dms_maintenance_log"
OVERDUE_GRACE = dt.timedelta(days=1)  # one missed night is not yet overdue


class MaintenanceSettingError(ValueError):
    """A maintenance setting that would be unsafe or cannot be read; names the setting."""


@dataclass(frozen=True)
class MaintenanceSettings:
    """How much history to keep and what counts as an orphan; refuses unsafe values."""

    snapshot_retention: dt.timedelta = dt.timedelta(days=5)
    keep_last_snapshots: int = 5
    orphan_file_age: dt.timedelta = dt.timedelta(days=3)
    longest_run: dt.timedelta = dt.timedelta(hours=6)

    def __post_init__(self) -> None:
        if self.keep_last_snapshots < 1:
            raise MaintenanceSettingError("CDCLAKE_KEEP_LAST_SNAPSHOTS must be at least 1")
        if self.snapshot_retention <= dt.timedelta(0):
            raise MaintenanceSettingError("CDCLAKE_SNAPSHOT_RETENTION_DAYS must be more than 0")
        if self.orphan_file_age < dt.timedelta(days=1):
            raise MaintenanceSettingError(
                f"CDCLAKE_ORPHAN_FILE_AGE_DAYS ({_days(self.orphan_file_age):g}) must be at least 1 day: "
                "Iceberg's remove_orphan_files refuses a shorter window, which could delete files a running "
                "commit still needs"
            )
        if self.orphan_file_age <= self.longest_run:
            raise MaintenanceSettingError(
                f"CDCLAKE_ORPHAN_FILE_AGE_DAYS ({_days(self.orphan_file_age):g}) must be longer than the longest "
                f"run, CDCLAKE_LONGEST_RUN_HOURS ({self.longest_run.total_seconds() / 3600:g} h): a shorter window "
                "would delete files a running apply has written but not committed yet"
            )

    @classmethod
    def from_env(cls) -> MaintenanceSettings:
        defaults = cls()
        return cls(
            snapshot_retention=dt.timedelta(
                days=_number("CDCLAKE_SNAPSHOT_RETENTION_DAYS", _days(defaults.snapshot_retention))
            ),
            keep_last_snapshots=int(_number("CDCLAKE_KEEP_LAST_SNAPSHOTS", defaults.keep_last_snapshots)),
            orphan_file_age=dt.timedelta(days=_number("CDCLAKE_ORPHAN_FILE_AGE_DAYS", _days(defaults.orphan_file_age))),
            longest_run=dt.timedelta(
                hours=_number("CDCLAKE_LONGEST_RUN_HOURS", defaults.longest_run.total_seconds() / 3600)
            ),
        )


@dataclass(frozen=True)
class TableUpkeep:
    """What one maintenance run did to one table."""

    table: str
    data_files_rewritten: int
    data_files_added: int
    delete_files_removed: int
    manifests_rewritten: int
    files_expired: int  # data, delete and manifest files of expired snapshots, deleted
    orphan_files_removed: int
    seconds: float
    skipped: str | None = None  # why the table was left for the next run (a concurrent commit)


@dataclass(frozen=True)
class TableHealth:
    """One table's files, snapshots and upkeep, as the report shows them."""

    table: str
    data_files: int
    delete_files: int
    snapshots: int
    bytes: int
    last_maintained: str | None  # ISO time of the last maintenance that did the table
    # More snapshots past the retention (and a day's grace) than the last few it keeps:
    # maintenance has not run for it, or not for long.
    overdue: bool


def table_health(
    spark, schema: str, settings: MaintenanceSettings, now: dt.datetime | None = None
) -> list[TableHealth]:
    """The health of every table of ``schema`` (Iceberg's metadata tables: no data read)."""
    cutoff = _timestamp((now or dt.datetime.now(dt.UTC)) - settings.snapshot_retention - OVERDUE_GRACE)
    tables = lake_tables(spark, schema)
    last: dict[str, str] = {}
    if LOG_TABLE in tables:
        log = f"{sql_identifier(schema)}.{sql_identifier(LOG_TABLE)}"
        for row in spark.sql(
            f"select table_name, max(finished_at) as at from {log} where skipped is null group by 1"
        ).collect():
            last[row["table_name"]] = row["at"].isoformat()
    health = []
    for name in (table for table in tables if table != LOG_TABLE):
        table = f"{sql_identifier(schema)}.{sql_identifier(name)}"
        files = {
            row["content"]: (row["n"], row["b"] or 0)
            for row in spark.sql(
                f"select content, count(*) as n, sum(file_size_in_bytes) as b from {table}.`files` group by content"
            ).collect()
        }
        snapshots = spark.sql(
            f"select count(*) as total, count_if(committed_at < {cutoff}) as old from {table}.`snapshots`"
        ).first()
        health.append(
            TableHealth(
                table=name,
                data_files=files.get(0, (0, 0))[0],
                delete_files=sum(files.get(content, (0, 0))[0] for content in (1, 2)),
                snapshots=snapshots["total"],
                bytes=sum(size for _, size in files.values()),
                last_maintained=last.get(name),
                overdue=snapshots["old"] > settings.keep_last_snapshots,
            )
        )
    return health


def lake_tables(spark, schema: str) -> list[str]:
    """Every table of the schema (dbt's models and the apply's bookkeeping), by name."""
    rows = spark.sql(f"show tables in {sql_identifier(checked_schema(schema))}").collect()
    return sorted(row["tableName"] for row in rows if not row["isTemporary"])


def lake_schema(paths: Paths) -> str:
    """The schema the last dbt build used (its manifest): what ``cdclake maintain`` keeps.
    Read before Spark starts, so that a project not built yet is said at once."""
    return target_schema(load_catalog(paths).schema)


def maintain_lake(
    spark, schema: str, settings: MaintenanceSettings, say: Callable[[str], None] = print
) -> list[TableUpkeep]:
    """Maintain the tables of ``schema`` (lake_schema): ``cdclake maintain`` and the nightly DAG."""
    say(
        f"Maintaining the tables of {schema}: keeping {_days(settings.snapshot_retention):g} day(s) of snapshots "
        f"(at least {settings.keep_last_snapshots}), removing orphan files older than "
        f"{_days(settings.orphan_file_age):g} day(s)"
    )
    return maintain(spark, schema, settings, say=say)


def maintain(
    spark,
    schema: str,
    settings: MaintenanceSettings,
    now: dt.datetime | None = None,
    say: Callable[[str], None] = print,
) -> list[TableUpkeep]:
    """Maintain every table of ``schema``, one after another, and log each outcome."""
    now = now or dt.datetime.now(dt.UTC)
    tables = [name for name in lake_tables(spark, schema) if name != LOG_TABLE]
    done = []
    for number, name in enumerate(tables, start=1):
        say(f"[{number}/{len(tables)}] {schema}.{name}")
        try:
            upkeep = _maintain_table(spark, schema, name, settings, now)
        except Exception as error:  # Spark wraps Iceberg's commit conflicts in its own errors
            if not is_commit_conflict(error):  # an apply committed first: its commit stands
                raise
            upkeep = TableUpkeep(name, 0, 0, 0, 0, 0, 0, 0.0, skipped=_first_line(error))
            say(f"  left for the next run: {upkeep.skipped}")
        _log(spark, schema, upkeep, now)
        done.append(upkeep)
    return done


def _maintain_table(spark, schema: str, name: str, settings: MaintenanceSettings, now: dt.datetime) -> TableUpkeep:
    started = time.perf_counter()
    table = sql_string(f"{schema}.{name}")
    # The catalog the lake's tables are in (the current catalog is per thread when PySpark
    # pins threads, and the Airflow task and the tests call from threads of their own).
    system = f"{sql_identifier(spark.conf.get('spark.sql.defaultCatalog', 'spark_catalog'))}.system"
    rewrite = _call(
        spark,
        f"{system}.rewrite_data_files(table => {table}, "
        "options => map('delete-file-threshold', '1', 'min-input-files', '2', 'partial-progress.enabled', 'true'))",
    )
    manifests = _call(spark, f"{system}.rewrite_manifests(table => {table})")
    expired = _call(
        spark,
        f"{system}.expire_snapshots(table => {table}, older_than => {_timestamp(now - settings.snapshot_retention)}, "
        f"retain_last => {settings.keep_last_snapshots})",
    )
    orphan_cutoff = _timestamp(now - settings.orphan_file_age)
    orphans = spark.sql(f"call {system}.remove_orphan_files(table => {table}, older_than => {orphan_cutoff})").count()
    return TableUpkeep(
        table=name,
        data_files_rewritten=rewrite.get("rewritten_data_files_count", 0),
        data_files_added=rewrite.get("added_data_files_count", 0),
        delete_files_removed=rewrite.get("removed_delete_files_count", 0),
        manifests_rewritten=manifests.get("rewritten_manifests_count", 0),
        files_expired=sum(value for key, value in expired.items() if key.startswith("deleted_")),
        orphan_files_removed=orphans,
        seconds=round(time.perf_counter() - started, 2),
    )


def _first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)[:300]


def _call(spark, procedure: str) -> dict[str, int]:
    row = spark.sql(f"call {procedure}").first()
    return {} if row is None else {key: value for key, value in row.asDict().items() if isinstance(value, int)}


def _log(spark, schema: str, upkeep: TableUpkeep, now: dt.datetime) -> None:
    log = f"{sql_identifier(schema)}.{sql_identifier(LOG_TABLE)}"
    spark.sql(
        f"create table if not exists {log} (table_name string, data_files_rewritten bigint, "
        "data_files_added bigint, delete_files_removed bigint, manifests_rewritten bigint, files_expired bigint, "
        "orphan_files_removed bigint, seconds double, skipped string, finished_at timestamp) using iceberg"
    )
    values = asdict(upkeep)
    literals = [sql_string(values.pop("table"))] + [
        "null" if value is None else sql_string(value) if isinstance(value, str) else str(value)
        for value in values.values()
    ]
    spark.sql(f"insert into {log} values ({', '.join(literals)}, {_timestamp(now)})")


def _timestamp(moment: dt.datetime) -> str:
    return f"timestamp {sql_string(moment.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f'))}"


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400


def _number(setting: str, default: float) -> float:
    text = os.environ.get(setting)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise MaintenanceSettingError(f'{setting}="{text}" is not a number') from None
