"""The MongoDB side read and hashed by Spark tasks: reconciliation past one machine.

A collection is cut into parts by its source (``DocumentSource.partitions``: byte ranges
of a mongodump file, ``_id`` ranges of a secondary); each Spark task reads one part
(``DocumentSource.scan``) and hashes its documents with the one canonical form. On EMR
the executors read the secondaries in parallel, each task with its own connection and
its own rate limit. The digests stay in Spark (``frames.DigestFrame``), so nothing on
the driver grows with the collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ..catalog import Namespace
from .canonical import NoCanonicalForm
from .frames import DigestFrame, FramedSide
from .keys import key_json
from .progress import Progress
from .run import UsageError
from .segments import digest_halves
from .sides import ReadStats, source_document_hash
from .sources import DocumentSource

_ROWS_PER_BATCH = 10_000
_HASHED = pa.schema(
    [
        ("key", pa.string()),
        ("high", pa.int64()),
        ("low", pa.int64()),
        ("size", pa.int64()),
        ("refusal", pa.string()),  # "path\0reason" for a document with no canonical form
        ("locator", pa.string()),  # where the source finds it again (DocumentSource.documents_at)
    ]
)
_HASHED_DDL = "key string, high bigint, low bigint, size bigint, refusal string, locator string"


def hash_part(source: DocumentSource, namespace: Namespace, part: str) -> Iterator[pa.RecordBatch]:
    """The digests of one part's documents, in Arrow batches (runs in a Spark task)."""
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
    keys, highs, lows, sizes, refusals, locators = columns
    for document, size, locator in source.scan(namespace, part):
        try:
            high, low = digest_halves(source_document_hash(namespace.collection, document))
            refusal = None
        except NoCanonicalForm as error:
            high, low, refusal = 0, 0, f"{error.path}\x00{error.reason}"
        keys.append(key_json(document["_id"]))
        highs.append(high)
        lows.append(low)
        sizes.append(size)
        refusals.append(refusal)
        locators.append(locator)
        if len(keys) >= _ROWS_PER_BATCH:
            yield pa.RecordBatch.from_arrays([pa.array(c) for c in columns], schema=_HASHED)
            for column in columns:
                column.clear()
    if keys:
        yield pa.RecordBatch.from_arrays([pa.array(c) for c in columns], schema=_HASHED)


def _hash_parts(
    source: DocumentSource, namespace: Namespace, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for part in batch.column("part").to_pylist():
            yield from hash_part(source, namespace, part)


class SparkSourceSide(FramedSide):
    """MongoDB (a secondary, or a mongodump snapshot), hashed by Spark tasks part by part.

    ``count``, ``documents`` and ``keys`` read the source from the driver, as the
    ``counts``, ``changed`` and ``sample`` modes need few documents or only keys; ``full``
    reads every document once, in Spark."""

    def __init__(
        self,
        spark: SparkSession,
        source: DocumentSource,
        namespaces: Mapping[str, Namespace],
        progress: Progress | None = None,
    ) -> None:
        self.spark, self.source, self.namespaces = spark, source, namespaces
        self.progress = progress or Progress.silent()
        self.stats = ReadStats()
        self._frames: dict[str, DigestFrame] = {}
        self._environment: dict[str, str | None] = {}
        if spark.sparkContext.master.startswith("local"):
            # The tasks are this machine's Python workers, started with the environment
            # the session started with: give them the source's settings as this process
            # has them now. On a cluster the executors' own environment (spark.
            # executorEnv, the job's role) holds them: a URI is never shipped with a task.
            shared = spark.sparkContext.environment
            for name, value in source.task_environment().items():
                self._environment[name] = shared.get(name)
                shared[name] = value

    def digest_frame(self, collection: str) -> DigestFrame:
        if collection not in self._frames:
            self._frames[collection] = self._hash(collection)
        return self._frames[collection]

    def _hash(self, collection: str) -> DigestFrame:
        namespace = self.namespaces[collection]
        parts = self.source.partitions(namespace, self.spark.sparkContext.defaultParallelism)
        self.progress.say(f"hashing source {collection} in Spark: {len(parts)} part(s) of {self.source!r}")
        hashed = (
            self.spark.createDataFrame([(part,) for part in parts], "part string")
            .repartition(len(parts))
            .mapInArrow(partial(_hash_parts, self.source, namespace), _HASHED_DDL)
        )
        frame = DigestFrame(hashed)
        # The one pass over the source: it fills the cache, and counts what was read.
        row = frame.fill(
            F.coalesce(F.sum("size"), F.lit(0)).alias("bytes"),
            F.min("refusal").alias("refused"),
        )
        self.stats.documents += row["n"]
        self.stats.bytes += row["bytes"]
        if row["refused"] is not None:
            frame.release()
            raise NoCanonicalForm(*row["refused"].split("\x00", 1))  # named as source_document_hash names it
        duplicated = frame.duplicate_keys(5)
        if duplicated:  # two equal digests would cancel out in a checksum
            frame.release()
            raise UsageError(
                f"{self.source!r} holds collection {collection} key(s) {', '.join(duplicated)} more than once: "
                "a mongodump taken while documents moved can; take it again with --oplog"
            )
        return frame

    def count(self, collection: str) -> int:
        if collection in self._frames:
            return self._frames[collection].rows  # type: ignore[return-value]  # filled when hashed
        return self.source.count(self.namespaces[collection])

    def documents(self, collection: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = sorted(set(keys))
        if not keys:
            return {}
        namespace = self.namespaces[collection]
        if self.source.locates and collection in self._frames:  # which keys it holds, and where
            wanted = self.spark.createDataFrame([(key,) for key in keys], "key string")
            located = self._frames[collection].frame.join(F.broadcast(wanted), "key").select("locator").collect()
            found = self.source.documents_at(namespace, [row["locator"] for row in located])
        else:
            found = self.source.documents_by_key(namespace, keys)
        documents = {}
        for document, size in found:
            self.stats.documents += 1
            self.stats.bytes += size
            documents[key_json(document["_id"])] = document
        return documents

    def keys(self, collection: str) -> list[str]:
        return list(self.source.keys(self.namespaces[collection]))

    def release(self) -> None:
        for frame in self._frames.values():
            frame.release()
        self._frames.clear()
        shared = self.spark.sparkContext.environment
        for name, value in self._environment.items():
            if value is None:
                shared.pop(name, None)
            else:
                shared[name] = value
        self._environment.clear()
