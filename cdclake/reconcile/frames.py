"""A collection's document digests as a Spark DataFrame, and the segment queries on it.

Both Spark sides (the Iceberg table, ``table``; MongoDB read by Spark tasks, ``scan``)
reduce a collection to rows ``(key, high, low)``: the key text and the two halves of the
document digest. Checksums of a whole level of segments are then one aggregate query,
and nothing on the driver grows with the collection: a leaf segment's digests (at most
``Bisection.leaf_size`` keys) and a sample of keys for split points are all it collects.
"""

from __future__ import annotations

import bisect
from abc import abstractmethod
from collections.abc import Sequence
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from .segments import EMPTY, Checksum, Segment, evenly_spaced, halves_digest
from .sides import Side

# Keys kept on the driver per collection and side to place split points (a sample when
# the collection holds more): enough to cut a segment of a thousandth of the collection
# into 16, few enough (a few MB) whatever the collection's size.
SKETCH_KEYS = 100_000
# A segment with fewer sketch keys than this per piece is cut from its own keys, read
# from Spark (deep levels of a collection many times larger than the sketch).
_SKETCH_KEYS_PER_PIECE = 8


def in_segment(segment: Segment, key: str = "key") -> Column:
    condition = F.lit(True)
    if segment.low is not None:
        condition &= F.col(key) >= F.lit(segment.low)
    if segment.high is not None:
        condition &= F.col(key) < F.lit(segment.high)
    return condition


class DigestFrame:
    """Rows ``(key, high, low, ...)`` of one collection, cached once computed (``persist``:
    the first query computes them, every later one reads the cache)."""

    def __init__(self, frame: DataFrame) -> None:
        self.frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._sketch: tuple[list[str], bool] | None = None  # sorted keys, and whether all of them
        self._whole: Checksum | None = None

    def fill(self, *more: Column) -> Row:
        """Compute the rows into the cache, with the whole collection's checksum (``n``,
        ``high``, ``low``) and any ``more`` aggregates, in one pass."""
        row = self.frame.agg(
            F.count("*").alias("n"), F.bit_xor("high").alias("high"), F.bit_xor("low").alias("low"), *more
        ).collect()[0]
        self._whole = Checksum(row["n"], row["high"] or 0, row["low"] or 0)
        return row

    def sketch(self) -> tuple[list[str], bool]:
        """Up to about ``SKETCH_KEYS`` keys, sorted (one Spark job, once), and whether
        they are all the keys."""
        if self._sketch is None:
            self._sketch = _sorted_sample(self.frame.select("key"), self.rows)
        return self._sketch

    @property
    def rows(self) -> int | None:
        """How many rows, once ``fill`` has counted them."""
        return self._whole.count if self._whole is not None else None

    def checksums(self, segments: Sequence[Segment]) -> list[Checksum]:
        """One checksum per segment, in the same order: one query for all of them."""
        if not segments:
            return []
        if self._whole is not None and len(segments) == 1 and segments[0].low is segments[0].high is None:
            return [self._whole]
        which = reduce(
            lambda otherwise, item: otherwise.when(in_segment(item[1]), F.lit(item[0])),
            enumerate(segments[1:], start=1),
            F.when(in_segment(segments[0]), F.lit(0)),
        )
        rows = (
            self.frame.where(reduce(Column.__or__, map(in_segment, _merged(segments))))
            .select(which.alias("segment"), "high", "low")
            .where("segment is not null")
            .groupBy("segment")
            .agg(F.count("*").alias("n"), F.bit_xor("high").alias("high"), F.bit_xor("low").alias("low"))
            .collect()
        )
        found = {row["segment"]: Checksum(row["n"], row["high"], row["low"]) for row in rows}
        return [found.get(number, EMPTY) for number in range(len(segments))]

    def digests(self, segment: Segment) -> dict[str, bytes]:
        rows = self.frame.where(in_segment(segment)).collect()
        return {row["key"]: halves_digest(row["high"], row["low"]) for row in rows}

    def split_points(self, segment: Segment, parts: int) -> list[str]:
        """Keys that cut the segment into ``parts`` pieces of about equal size."""
        sketch, complete = self.sketch()
        start = 0 if segment.low is None else bisect.bisect_left(sketch, segment.low)
        stop = len(sketch) if segment.high is None else bisect.bisect_left(sketch, segment.high)
        if complete or stop - start >= parts * _SKETCH_KEYS_PER_PIECE:
            return evenly_spaced(sketch[start:stop], parts)
        keys, _ = _sorted_sample(self.frame.where(in_segment(segment)).select("key"))
        return evenly_spaced(keys, parts)

    def duplicate_keys(self, limit: int = 1_000) -> list[str]:
        """Keys held more than once: two rows for one key would cancel out in a checksum."""
        duplicated = self.frame.groupBy("key").count().where("count > 1").select("key")
        return sorted(row["key"] for row in duplicated.limit(limit).collect())

    def release(self) -> None:
        self.frame.unpersist()


class FramedSide(Side):
    """A side whose digests are a ``DigestFrame`` per collection: the segment queries are
    the frame's."""

    @abstractmethod
    def digest_frame(self, collection: str) -> DigestFrame:
        """The collection's frame, computed and cached on first use."""

    def checksums(self, segments: Sequence[Segment]) -> list[Checksum]:
        return self.digest_frame(segments[0].collection).checksums(segments) if segments else []

    def digests(self, segment: Segment) -> dict[str, bytes]:
        return self.digest_frame(segment.collection).digests(segment)

    def split_points(self, segment: Segment, parts: int) -> list[str]:
        return self.digest_frame(segment.collection).split_points(segment, parts)


def _sorted_sample(keys: DataFrame, total: int | None = None) -> tuple[list[str], bool]:
    """About ``SKETCH_KEYS`` of these keys (all of them when there are no more), sorted,
    and whether they are all; ``total``: their number, when known."""
    total = keys.count() if total is None else total
    if total > SKETCH_KEYS:
        keys = keys.sample(fraction=SKETCH_KEYS / total, seed=0)
    return sorted(row["key"] for row in keys.collect()), total <= SKETCH_KEYS


def _merged(segments: Sequence[Segment]) -> list[Segment]:
    """The ranges the segments cover, adjacent ones as one: a cheap first filter (the
    pieces of one parent are adjacent), so most rows skip the segment-by-segment test."""
    ordered = sorted(segments, key=lambda s: (s.low is not None, s.low or ""))
    merged = [ordered[0]]
    for segment in ordered[1:]:
        last = merged[-1]
        if last.high is not None and last.high == segment.low:
            merged[-1] = Segment(last.collection, last.low, segment.high)
        else:
            merged.append(segment)
    return merged
