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
from collections.abc import Mapping
from dataclasses import dataclass, field

from bson import ObjectId, json_util
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..catalog import Catalog
from ..names import hadoop_glob_literal
from ..spark import as_utc
from .keys import key_json


@dataclass(frozen=True)
class PendingChanges:
    """Landed files the table has not applied yet, and the keys they touch."""

    files: int
    rows: int
    keys: frozenset[str]
    # For a difference in flight too long: which files hold its key, and when they landed.
    files_by_key: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    landed_at: Mapping[str, dt.datetime] = field(default_factory=dict)


NOTHING_PENDING = PendingChanges(0, 0, frozenset())


@dataclass(frozen=True)
class LastApply:
    """The newest apply of a collection that read new files."""

    invocation_id: str
    finished_at: dt.datetime


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

    def last_apply(self, collection: str) -> LastApply | None:
        found = self.catalog.get(collection)
        newest = (
            self.spark.table(f"{self.schema}.dms_apply_log")
            .where((F.col("source_name") == F.lit(found.source)) & (F.col("files_new") > 0))
            .orderBy(F.col("finished_at").desc())
            .select("invocation_id", "finished_at")
            .first()
        )
        return None if newest is None else LastApply(newest["invocation_id"], as_utc(newest["finished_at"]))

    def pending(self, collection: str) -> PendingChanges:
        """Worked out once per collection and run of reconciliation."""
        if collection not in self._pending:
            self._pending[collection] = self._list_pending(collection)
        return self._pending[collection]

    def _list_pending(self, collection: str) -> PendingChanges:
        found = self.catalog.get(collection)
        folder = hadoop_glob_literal(f"{self.landing_root}/{found.database}/{found.name}")  # its name is literal
        try:
            landed = (
                self.spark.read.format("binaryFile")
                .options(recursiveFileLookup="true", pathGlobFilter=found.file_name_glob)
                .load(folder)
            )
        except AnalysisException as error:  # no folder yet: nothing landed
            if "PATH_NOT_FOUND" in str(error) or "Path does not exist" in str(error):
                return NOTHING_PENDING
            raise
        landed = landed.select(F.col("path").alias("file_path"), F.col("modificationTime").alias("file_modified_at"))
        applied = self.spark.table(f"{self.schema}.dms_applied_files").where(
            F.col("source_name") == F.lit(found.source)
        )
        landed_at = {
            row[0]: as_utc(row[1])
            for row in landed.join(applied, ["file_path", "file_modified_at"], "left_anti")
            .select("file_path", "file_modified_at")
            .collect()
        }
        new = list(landed_at)
        if not new:
            return NOTHING_PENDING
        rows = self._landed_rows(found.key_column, new)
        files_by_key: dict[str, set[str]] = {}
        for row in rows:
            for key in pending_keys(row["text"], row["document"]):
                files_by_key.setdefault(key, set()).add(row["file"])
        return PendingChanges(
            len(new),
            len(rows),
            frozenset(files_by_key),
            {key: tuple(sorted(f for f in files if f)) for key, files in files_by_key.items()},
            landed_at,
        )

    def _landed_rows(self, key_column: str, paths: list[str]) -> list:
        """Key text, document and file (as listed) of every row of ``paths``. Each file is read
        on its own branch, tagged with its listed path: Spark's own file name for a row is
        URI-escaped, another spelling of the same path. Past ``_ATTRIBUTED_FILES`` files the
        rows are read together, without their file."""
        reads = []
        tagged = len(paths) <= _ATTRIBUTED_FILES
        for group in [[path] for path in paths] if tagged else [paths]:
            frame = self._read_parquet(group)
            if frame is None:
                continue
            document = F.col("_doc") if "_doc" in frame.columns else F.lit(None).cast("string")
            file = F.lit(group[0]) if tagged else F.lit(None).cast("string")
            reads.append(frame.select(F.col(key_column).alias("text"), document.alias("document"), file.alias("file")))
        if not reads:
            return []
        union = reads[0]
        for frame in reads[1:]:
            union = union.unionByName(frame)
        return union.collect()

    def _read_parquet(self, paths: list[str]) -> DataFrame | None:
        """The rows of ``paths`` (as listed: glob characters are literal), or None when not one
        of them is readable Parquet: the apply quarantines such a file whole, and the report
        counts it there."""
        try:
            return self.spark.read.option("ignoreCorruptFiles", "true").parquet(
                *(hadoop_glob_literal(path) for path in paths)
            )
        except AnalysisException as error:
            if "UNABLE_TO_INFER_SCHEMA" in str(error):
                return None
            raise


_ATTRIBUTED_FILES = 200  # pending files read one branch each (a plan grows with its branches)


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
