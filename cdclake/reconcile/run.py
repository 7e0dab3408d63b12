"""One reconciliation run: every chosen mode on every collection, in-flight mismatches of
the previous run re-checked, the result written as JSON.

A run only reads both sides; what it writes (``state``) is replaced whole at the end, so
a run killed midway leaves the previous state intact and the next run gives the full
result.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from ..generator.documents import COLLECTIONS
from .lake import LakeState
from .progress import Progress
from .result import CheckResult, Mismatch, RunResult
from .sides import Side
from .state import StateFiles
from .strategies import Bisection, check_changed, check_counts, check_full, check_sample, compare_keys

MODES = ("counts", "changed", "sample", "full")


@dataclass(frozen=True)
class Options:
    modes: tuple[str, ...] = MODES
    collections: tuple[str, ...] = COLLECTIONS
    sample_size: int = 100
    seed: int = 0
    bisection: Bisection = field(default_factory=Bisection)


def reconcile(
    source: Side, table: Side, lake: LakeState, options: Options, state: StateFiles, progress: Progress, label: str
) -> RunResult:
    result = RunResult(dt.datetime.now(dt.UTC), label, lake.schema)
    waiting = state.load_in_flight()
    for collection in options.collections:
        pending_keys = functools.cache(lambda c=collection: lake.pending(c).keys)
        earlier = [m.key for m in waiting if m.collection == collection]
        if earlier:
            progress.say(f"{collection}: re-checking {len(earlier)} mismatch(es) that were in flight")
            check = CheckResult("recheck", collection, compared=len(earlier))
            check.mismatches = compare_keys(collection, earlier, source, table)
            result.checks.append(_mark_in_flight(check, pending_keys))
        for mode in options.modes:
            progress.say(f"{collection}: {mode}")
            check = _run_mode(mode, collection, source, table, lake, options)
            result.checks.append(_mark_in_flight(check, pending_keys))
    result.finished_at = dt.datetime.now(dt.UTC)
    return result


def _run_mode(mode: str, collection: str, source: Side, table: Side, lake: LakeState, options: Options) -> CheckResult:
    if mode == "counts":
        return check_counts(collection, source, table, lake)
    if mode == "changed":
        return check_changed(collection, source, table, lake)
    if mode == "sample":
        return check_sample(collection, source, table, options.sample_size, options.seed)
    if mode == "full":
        return check_full(collection, source, table, options.bisection)
    raise ValueError(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")


def _mark_in_flight(check: CheckResult, pending_keys: Callable[[], frozenset[str]]) -> CheckResult:
    """A mismatch whose key has a landed change the table has not applied is in flight."""
    if check.mismatches:
        pending = pending_keys()
        check.mismatches = [Mismatch(m.collection, m.key, m.kind, m.key in pending, m.fields) for m in check.mismatches]
    return check
