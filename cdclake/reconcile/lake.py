"""What the lake knows about its own progress: the watermark of each table, the keys the
latest run applied, and the changes that have landed but are not applied yet (in flight).

It reads the bookkeeping the ``cdc_current_state`` materialization keeps
(``dms_applied_files``, ``dms_apply_log``) and lists landing with the same glob as dbt
(the ``dms_file_glob`` variable in dbt_project.yml).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..settings import DATABASE, PROJECT_DIR
from .table import table_name


@dataclass(frozen=True)
class PendingChanges:
    """Landed files the table has not applied yet, and the keys they touch."""

    files: int
    rows: int
    keys: frozenset[str]


def dbt_project_vars() -> dict[str, str]:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


class LakeState:
    def __init__(self, spark: SparkSession, schema: str, landing_root: str) -> None:
        self.spark, self.schema, self.landing_root = spark, schema, landing_root.rstrip("/")

    @cached_property
    def _vars(self) -> dict[str, str]:
        return dbt_project_vars()

    def watermark(self, collection: str) -> dt.datetime | None:
        """The newest commit time the table has applied."""
        return self.spark.table(table_name(self.schema, collection)).agg(F.max("commit_ts")).first()[0]

    def latest_run_keys(self, collection: str) -> tuple[str | None, list[str]]:
        """The dbt invocation that last applied landing files (to any table), and the keys
        of this collection whose current row (document or tombstone) it wrote."""
        latest = self.spark.sql(
            f"select invocation_id from {self.schema}.dms_apply_log where files_new > 0 "
            "order by finished_at desc limit 1"
        ).first()
        if latest is None:
            return None, []
        rows = (
            self.spark.table(table_name(self.schema, collection))
            .where(F.col("applied_by") == latest[0])
            .select("_id")
            .collect()
        )
        return latest[0], [row[0] for row in rows]

    def pending(self, collection: str) -> PendingChanges:
        folder = f"{self.landing_root}/{DATABASE}/{collection}"
        landed = (
            self.spark.read.format("binaryFile")
            .load(f"{folder}/{self._vars['dms_file_glob']}")
            .select(F.col("path").alias("file_path"), F.col("modificationTime").alias("file_modified_at"))
        )
        applied = self.spark.table(f"{self.schema}.dms_applied_files").where(
            F.col("target_table").endswith(f"current_{collection}")
        )
        new = [
            row[0]
            for row in landed.join(applied, ["file_path", "file_modified_at"], "left_anti")
            .select("file_path")
            .collect()
        ]
        if not new:
            return PendingChanges(0, 0, frozenset())
        key_column = self._vars["dms_key_column"]
        keys = self.spark.read.option("ignoreCorruptFiles", "true").parquet(*new).select(F.col(key_column).alias("key"))
        rows = keys.collect()
        return PendingChanges(len(new), len(rows), frozenset(row[0] for row in rows if row[0]))
