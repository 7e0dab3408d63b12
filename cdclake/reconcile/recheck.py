"""Open differences: what a run found stays open, and is re-checked by key first in every
later run, until the lake and MongoDB agree on the document.

Like the "recheck generations" of MongoDB's migration-verifier: each run takes the open
differences of the previous one (``open_differences.json``), fetches exactly those keys
from both sides, and carries on only what still differs. So a difference that one run's
``sample`` drew is not forgotten by the next run, whose sample draws other documents.

- A confirmed difference stays confirmed (red) until both sides agree, even when a new
  change for its key has landed: it is resolved by the apply, not by the promise of one.
- An in-flight difference stays in flight while its key has a landed change the table has
  not applied; otherwise, still differing, it is confirmed.
- A difference that is gone is dropped and named in the check's ``details.resolved``.
- Differences of a collection the run does not check are listed again, as they were, in a
  ``carried`` check: they keep their status until a run checks the collection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from .result import CARRIED, DUPLICATE_IN_TABLE, RECHECK, Mismatch, ModeResult, OpenDifference
from .sides import Side
from .strategies import compare_keys

if TYPE_CHECKING:  # the lake side is Spark's; the rechecks load without it
    from .lake import LakeState


def one_per_key(differences: Iterable[OpenDifference]) -> dict[str, OpenDifference]:
    """One open difference per key of a collection; a confirmed one wins over in flight."""
    found: dict[str, OpenDifference] = {}
    for difference in differences:
        kept = found.get(difference.key)
        if kept is None or (kept.mismatch.in_flight and not difference.mismatch.in_flight):
            found[difference.key] = difference
    return found


def recheck(
    collection: str, earlier: Iterable[OpenDifference], source: Side, table: Side, lake: LakeState
) -> ModeResult:
    """Compare again the keys of the open differences of ``collection``."""
    by_key = one_per_key(earlier)
    keys = sorted(by_key)
    found = {m.key: m for m in compare_keys(collection, keys, source, table)}
    # Two rows of one key look like one document to a lookup by key: ask the table again.
    doubled = [key for key in keys if by_key[key].mismatch.kind == DUPLICATE_IN_TABLE]
    if doubled:
        still = set(table.duplicate_keys(collection))
        found.update({key: Mismatch(collection, key, DUPLICATE_IN_TABLE) for key in doubled if key in still})
    waiting = [key for key in found if by_key[key].mismatch.in_flight]
    pending = lake.pending(collection).keys if waiting else frozenset()
    check = ModeResult(RECHECK, collection, compared=len(keys))
    check.mismatches = [
        replace(found[key], in_flight=by_key[key].mismatch.in_flight and key in pending) for key in keys if key in found
    ]
    check.details = {
        "open_before": len(keys),
        "resolved": [
            {"key": key, "kind": by_key[key].mismatch.kind, "first_seen": by_key[key].first_seen}
            for key in keys
            if key not in found
        ],
    }
    return check


def carried(collection: str, earlier: Iterable[OpenDifference]) -> ModeResult:
    """The open differences of a collection this run did not check, as they were."""
    mismatches = [d.mismatch for d in one_per_key(earlier).values()]
    return ModeResult(
        CARRIED, collection, mismatches=sorted(mismatches, key=lambda m: m.key), details={"rechecked": False}
    )


def still_open(before: Iterable[OpenDifference], checks: Iterable[ModeResult], now: str) -> list[OpenDifference]:
    """The open differences after a run: every mismatch its checks found, once per
    collection and key (confirmed by any check wins over in flight), with when it was first
    seen and how many runs re-checked it."""
    previous = {(d.collection, d.key): d for d in before}
    merged: dict[tuple[str, str], tuple[Mismatch, bool]] = {}  # → (mismatch, only carried)
    for check in checks:
        for mismatch in check.mismatches:
            where = (mismatch.collection, mismatch.key)
            if where in merged:
                kept, only_carried = merged[where]
                mismatch = replace(mismatch, in_flight=kept.in_flight and mismatch.in_flight)
                merged[where] = (mismatch, only_carried and check.mode == CARRIED)
            else:
                merged[where] = (mismatch, check.mode == CARRIED)
    differences = []
    for where, (mismatch, only_carried) in merged.items():
        old = previous.get(where)
        if old is None:
            differences.append(OpenDifference(mismatch, first_seen=now, last_checked=now))
        elif only_carried:
            differences.append(replace(old, mismatch=mismatch))
        else:
            differences.append(OpenDifference(mismatch, old.first_seen, now, old.rechecks + 1))
    return sorted(differences, key=lambda d: (d.collection, d.key))
