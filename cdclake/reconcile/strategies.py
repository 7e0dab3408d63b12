"""The diff strategies, each apart from the sides it compares.

- ``counts``: documents per collection on each side, judged against pending changes.
- ``changed``: the keys the latest dbt run applied, compared one by one.
- ``sample``: a seeded random sample of keys from both sides, compared one by one.
- ``full``: checksums over key-range segments, bisected until the differing keys are
  known; only those documents are fetched and diffed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .diff import classify
from .result import DUPLICATE_IN_TABLE, Mismatch, ModeResult
from .segments import Segment
from .sides import Side

if TYPE_CHECKING:  # the lake side is Spark's; the strategies load without it
    from .lake import LakeState


def compare_keys(collection: str, keys: Iterable[str], source: Side, table: Side) -> list[Mismatch]:
    """Fetch the documents with these keys from both sides and classify each pair."""
    keys = sorted(set(keys))
    source_docs, table_docs = source.documents(collection, keys), table.documents(collection, keys)
    found = (classify(collection, key, source_docs.get(key), table_docs.get(key)) for key in keys)
    return [mismatch for mismatch in found if mismatch is not None]


def check_counts(collection: str, source: Side, table: Side, lake: LakeState) -> ModeResult:
    source_count, table_count = source.count(collection), table.count(collection)
    result = ModeResult("counts", collection, source_count=source_count, table_count=table_count)
    watermark = lake.watermark(collection)
    result.details["table_watermark"] = watermark.isoformat() if watermark else None
    if source_count != table_count:
        pending = lake.pending(collection)
        result.details.update(pending_files=pending.files, pending_rows=pending.rows)
        # Each pending row can change the count by one at most; beyond that, no lag explains it.
        result.count_in_flight = abs(source_count - table_count) <= pending.rows
    return result


def check_changed(collection: str, source: Side, table: Side, lake: LakeState, since: dt.datetime | None) -> ModeResult:
    """The keys every apply since the last ``changed`` check wrote (all applies the first
    time), so that no apply goes unchecked whether dbt ran once or once per model."""
    applied = lake.keys_applied_since(collection, since)
    result = ModeResult("changed", collection, compared=len(set(applied.keys)))
    result.details = {
        "applied_since": since.isoformat() if since else None,
        "applied_through": applied.through.isoformat() if applied.through else None,
        "dbt_invocations": applied.invocations,
    }
    result.mismatches = compare_keys(collection, applied.keys, source, table)
    return result


def sample_keys(collection: str, keys: Iterable[str], size: int, seed: int) -> list[str]:
    """``size`` keys chosen by a seeded hash: the same data and seed give the same sample."""

    def rank(key: str) -> bytes:
        return hashlib.blake2b(f"{seed}\x00{collection}\x00{key}".encode(), digest_size=8).digest()

    return sorted(sorted(set(keys), key=rank)[:size])


def check_sample(collection: str, source: Side, table: Side, size: int, seed: int) -> ModeResult:
    # Keys from both sides, so that a document missing on either side can be drawn.
    chosen = sample_keys(collection, [*source.keys(collection), *table.keys(collection)], size, seed)
    result = ModeResult("sample", collection, compared=len(chosen), details={"seed": seed, "size": size})
    result.mismatches = compare_keys(collection, chosen, source, table)
    return result


@dataclass(frozen=True)
class Bisection:
    """How finely to cut: ``factor`` pieces per split, and segments of at most
    ``leaf_size`` documents (on the larger side) are compared key by key."""

    factor: int = 16
    leaf_size: int = 256
    # When more segments than this differ at one level, the differences are everywhere:
    # one listing of every digest costs less than cutting further.
    max_level_segments: int = 1_024


def check_full(collection: str, source: Side, table: Side, bisection: Bisection = Bisection()) -> ModeResult:
    whole = Segment(collection)
    (source_sum,), (table_sum,) = source.checksums([whole]), table.checksums([whole])
    result = ModeResult("full", collection, source_count=source_sum.count, table_count=table_sum.count)
    stats = {"segments_compared": 1, "levels": 0, "leaf_segments": 0, "documents_in_leaves": 0}
    level = [(whole, source_sum.count, table_sum.count)] if source_sum != table_sum else []
    differing: list[str] = []
    while level:
        stats["levels"] += 1
        to_split = []
        for segment, source_n, table_n in level:
            if max(source_n, table_n) <= bisection.leaf_size:
                differing += _differing_keys(segment, source, table)
                stats["leaf_segments"] += 1
                stats["documents_in_leaves"] += max(source_n, table_n)
            else:
                to_split.append((segment, source_n, table_n))
        pieces = [
            piece
            for segment, source_n, table_n in to_split
            for piece in _split(segment, source_n, table_n, source, table, bisection.factor)
        ]
        if len(pieces) > bisection.max_level_segments:
            differing = sorted(set(differing) | set(_differing_keys(whole, source, table)))
            stats["listed_every_digest"] = True
            break
        source_sums, table_sums = source.checksums(pieces), table.checksums(pieces)
        stats["segments_compared"] += len(pieces)
        level = [
            (piece, a.count, b.count) for piece, a, b in zip(pieces, source_sums, table_sums, strict=True) if a != b
        ]
    result.mismatches = compare_keys(collection, differing, source, table)
    result.mismatches += [Mismatch(collection, key, DUPLICATE_IN_TABLE) for key in table.duplicate_keys(collection)]
    result.compared = len(differing)
    result.details = stats
    return result


def _split(segment: Segment, source_n: int, table_n: int, source: Side, table: Side, factor: int) -> list[Segment]:
    # Cut where the side with more documents in the segment has its keys evenly spaced.
    larger = source if source_n >= table_n else table
    pieces = segment.split(larger.split_points(segment, factor))
    if len(pieces) < 2:
        raise RuntimeError(f"cannot split {segment.describe()} ({source_n} vs {table_n} documents)")
    return pieces


def _differing_keys(segment: Segment, source: Side, table: Side) -> list[str]:
    a, b = source.digests(segment), table.digests(segment)
    return [key for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
