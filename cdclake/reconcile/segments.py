"""Key-range segments and their order-independent checksums.

A segment is a half-open range ``[low, high)`` of key texts (the DMS key column: the
ObjectId's hex or the key's string form), so both sides agree on what a segment holds
whatever the key's BSON type. A checksum is the count and the XOR of the 128-bit document
digests in the segment: XOR does not care about order, and keys are unique on each side,
so equal checksums mean equal contents (up to a 2^-128 collision).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """The keys ``low <= key < high`` of one collection; ``None`` is unbounded."""

    collection: str
    low: str | None = None
    high: str | None = None

    def contains(self, key: str) -> bool:
        return (self.low is None or key >= self.low) and (self.high is None or key < self.high)

    def split(self, points: Iterable[str]) -> list[Segment]:
        """Cut at ``points`` (those strictly inside the segment); always covers it exactly."""
        inside = sorted({p for p in points if self.contains(p) and p != self.low})
        bounds = [self.low, *inside, self.high]
        return [Segment(self.collection, lo, hi) for lo, hi in itertools.pairwise(bounds)]

    def describe(self) -> str:
        return f"{self.collection}[{self.low or '-∞'}, {self.high or '+∞'})"


@dataclass(frozen=True)
class Checksum:
    count: int
    xor_high: int
    xor_low: int


EMPTY = Checksum(0, 0, 0)


def digest_halves(digest: bytes) -> tuple[int, int]:
    """A 16-byte digest as two signed 64-bit integers (what Spark's bigint holds)."""
    return int.from_bytes(digest[:8], "big", signed=True), int.from_bytes(digest[8:], "big", signed=True)


def halves_digest(high: int, low: int) -> bytes:
    return high.to_bytes(8, "big", signed=True) + low.to_bytes(8, "big", signed=True)


class DigestIndex:
    """Digests of one collection sorted by key: any segment's checksum in O(log n + size)."""

    def __init__(self, pairs: Iterable[tuple[str, bytes]]) -> None:
        ordered = sorted(pairs)
        self.keys: list[str] = [key for key, _ in ordered]
        duplicates = [a for a, b in itertools.pairwise(self.keys) if a == b]
        if duplicates:
            raise ValueError(f"duplicate keys in one collection: {duplicates[:5]}")
        raw = b"".join(digest for _, digest in ordered)
        self._digests = np.frombuffer(raw, dtype=">i8").astype(np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.keys)

    def _bounds(self, segment: Segment) -> tuple[int, int]:
        start = 0 if segment.low is None else bisect.bisect_left(self.keys, segment.low)
        stop = len(self.keys) if segment.high is None else bisect.bisect_left(self.keys, segment.high)
        return start, stop

    def checksum(self, segment: Segment) -> Checksum:
        start, stop = self._bounds(segment)
        if start >= stop:
            return EMPTY
        xor = np.bitwise_xor.reduce(self._digests[start:stop], axis=0)
        return Checksum(stop - start, int(xor[0]), int(xor[1]))

    def digests(self, segment: Segment) -> dict[str, bytes]:
        start, stop = self._bounds(segment)
        return {
            key: halves_digest(int(row[0]), int(row[1]))
            for key, row in zip(self.keys[start:stop], self._digests[start:stop], strict=True)
        }

    def split_points(self, segment: Segment, parts: int) -> list[str]:
        """Keys that cut the segment into ``parts`` pieces of about equal size."""
        start, stop = self._bounds(segment)
        return evenly_spaced(self.keys[start:stop], parts)


def evenly_spaced(sorted_keys: Sequence[str], parts: int) -> list[str]:
    step = len(sorted_keys) / parts
    return [sorted_keys[int(step * i)] for i in range(1, parts) if int(step * i) < len(sorted_keys)]
