"""The Iceberg side: a collection's current-state table, hashed inside Spark.

Digests are computed by the same Python canonical form as the source side, running in
Spark as a vectorised (pandas) UDF over the ``document`` column, once per collection and
cached (``frames.DigestFrame``, which answers the segment queries).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..catalog import Catalog
from .canonical import NoCanonicalForm, extended_json_hash, parse_extended_json
from .frames import DigestFrame, FramedSide
from .keys import key_value, restore_id
from .segments import digest_halves


def parse_table_document(key: str, text: str) -> dict[str, Any]:
    """A ``document`` value as the source holds it (``_id`` restored if DMS left it out)."""
    return restore_id(parse_extended_json(text), key)


def table_document_hash(key: str, text: str) -> bytes:
    """The digest of a table document. One with no canonical form (docs/canonical-form.md)
    gets a digest no document can have, so it shows as a difference instead of stopping
    the job; the comparison of that document then names the field."""
    try:
        return extended_json_hash(text, missing_id=lambda: key_value(key))
    except NoCanonicalForm as error:
        return b"\xff" + f"no canonical form at {error.path}".encode()[:15].ljust(15, b"\x00")


@F.pandas_udf(T.StructType([T.StructField("high", T.LongType()), T.StructField("low", T.LongType())]))
def document_digest(keys: pd.Series, documents: pd.Series) -> pd.DataFrame:
    halves = [digest_halves(table_document_hash(k, d)) for k, d in zip(keys, documents, strict=True)]
    return pd.DataFrame(halves, columns=["high", "low"], dtype="int64")


class TableSide(FramedSide):
    """The current-state Iceberg table of each collection (live rows; tombstones are not
    documents)."""

    def __init__(self, spark: SparkSession, schema: str, catalog: Catalog) -> None:
        self.spark, self.schema, self.catalog = spark, schema, catalog
        self._digests: dict[str, DigestFrame] = {}

    def table(self, collection: str) -> str:
        return self.catalog.get(collection).table(self.schema)

    def live_rows(self, collection: str) -> DataFrame:
        return self.spark.table(self.table(collection)).where("not is_deleted")

    def digest_frame(self, collection: str) -> DigestFrame:
        if collection not in self._digests:
            frame = DigestFrame(
                self.live_rows(collection)
                .select(F.col("_id").alias("key"), document_digest("_id", "document").alias("digest"))
                .select("key", "digest.high", "digest.low")
            )
            frame.fill()  # hash once, here, so that every later query reads the cache
            self._digests[collection] = frame
        return self._digests[collection]

    def count(self, collection: str) -> int:
        return self.live_rows(collection).count()

    def documents(self, collection: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = sorted(set(keys))
        if not keys:
            return {}
        wanted = self.spark.createDataFrame([(key,) for key in keys], "key string")
        rows = self.live_rows(collection).join(F.broadcast(wanted), F.col("_id") == wanted["key"]).collect()
        return {row["_id"]: parse_table_document(row["_id"], row["document"]) for row in rows}

    def keys(self, collection: str) -> list[str]:
        return [row["_id"] for row in self.live_rows(collection).select("_id").collect()]

    def duplicate_keys(self, collection: str) -> list[str]:
        return self.digest_frame(collection).duplicate_keys()

    def release(self) -> None:
        for frame in self._digests.values():
            frame.release()
        self._digests.clear()
