"""What the lake knows about its own progress: the watermark of each table, the keys the
applies since a given time wrote, and the changes that have landed but are not applied
yet (in flight).

It reads the bookkeeping the ``cdc_current_state`` materialization keeps
(``dms_applied_files``, ``dms_apply_log``, by the collection's dbt source) and lists
landing with the collection's own database, glob and key column, from the catalog.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bson import ObjectId, json_util
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..catalog import Catalog
from ..names import hadoop_glob_literal
from .keys import key_json


@dataclass(frozen=True)
class PendingChanges:
    """Landed files the table has not applied yet, and the keys they touch."""

    files: int
    rows: int
    keys: frozenset[str]


NOTHING_PENDING = PendingChanges(0, 0, frozenset())


@dataclass(frozen=True)
class AppliedKeys:
    """The keys whose current row the applies after ``since`` wrote (documents or
    tombstones), and the finish time of the newest of those applies."""

    keys: list[str]
    through: dt.datetime | None
    invocations: int


class LakeState:
    def __init__(self, spark: SparkSession, schema: str, landing_root: str, catalog: Catalog) -> None:
        self.spark, self.schema, self.landing_root = spark, schema, landing_root.rstrip("/")
        self.catalog = catalog
        self._pending: dict[str, PendingChanges] = {}

    def watermark(self, collection: str) -> dt.datetime | None:
        """The newest commit time the table has applied."""
        return self.spark.table(self.catalog.get(collection).table(self.schema)).agg(F.max("commit_ts")).first()[0]

    def keys_applied_since(self, collection: str, since: dt.datetime | None) -> AppliedKeys:
        """What every apply to this table since ``since`` (all of them when ``None``)
        wrote. One dbt invocation per model (as cosmos runs them) or one for all alike."""
        found = self.catalog.get(collection)
        log = self.spark.table(f"{self.schema}.dms_apply_log").where(
            (F.col("source_name") == F.lit(found.source)) & (F.col("files_new") > 0)
        )
        if since is not None:
            log = log.where(F.col("finished_at") > F.lit(since))
        runs = log.select("invocation_id", "finished_at").collect()
        if not runs:
            return AppliedKeys([], since, 0)
        invocations = [run["invocation_id"] for run in runs]
        rows = (
            self.spark.table(found.table(self.schema))
            .where(F.col("applied_by").isin(invocations))
            .select("_id")
            .collect()
        )
        return AppliedKeys([row[0] for row in rows], max(run["finished_at"] for run in runs), len(invocations))

    def pending(self, collection: str) -> PendingChanges:
        """Worked out once per collection and run of reconciliation."""
        if collection not in self._pending:
            self._pending[collection] = self._list_pending(collection)
        return self._pending[collection]

    def _list_pending(self, collection: str) -> PendingChanges:
        found = self.catalog.get(collection)
        folder = hadoop_glob_literal(f"{self.landing_root}/{found.database}/{found.name}")  # its name is literal
        try:
            landed = self.spark.read.format("binaryFile").load(f"{folder}/{found.file_glob}")
        except AnalysisException as error:  # nothing matches the glob: nothing landed
            if "PATH_NOT_FOUND" in str(error) or "Path does not exist" in str(error):
                return NOTHING_PENDING
            raise
        landed = landed.select(F.col("path").alias("file_path"), F.col("modificationTime").alias("file_modified_at"))
        applied = self.spark.table(f"{self.schema}.dms_applied_files").where(
            F.col("source_name") == F.lit(found.source)
        )
        new = [
            row[0]
            for row in landed.join(applied, ["file_path", "file_modified_at"], "left_anti")
            .select("file_path")
            .collect()
        ]
        if not new:
            return NOTHING_PENDING
        key_column = found.key_column
        files = [hadoop_glob_literal(path) for path in new]  # paths as listed: glob characters are literal
        landed_rows = self.spark.read.option("ignoreCorruptFiles", "true").parquet(*files)
        document = F.col("_doc") if "_doc" in landed_rows.columns else F.lit(None).cast("string")
        rows = landed_rows.select(F.col(key_column).alias("text"), document.alias("document")).collect()
        keys = frozenset(key for row in rows for key in pending_keys(row["text"], row["document"]))
        return PendingChanges(len(new), len(rows), keys)


def pending_keys(text: str | None, document: str | None) -> list[str]:
    """The keys a landed row may change: its document's typed ``_id`` when it carries one;
    otherwise every key its text can stand for (the apply resolves which one)."""
    if document:
        try:
            parsed = json_util.loads(document)
        except ValueError:
            parsed = {}  # quarantined by the apply; its text still marks a key in flight
        if isinstance(parsed, dict) and "_id" in parsed:
            return [key_json(parsed["_id"])]
    if text is None:
        return []
    candidates = [key_json(text)]
    if re.fullmatch(r"[0-9a-fA-F]{24}", text):
        candidates.append(key_json(ObjectId(text)))
    if re.fullmatch(r"-?[0-9]{1,19}", text) and -(2**63) <= int(text) < 2**63:
        candidates.append(key_json(int(text)))
    return candidates
