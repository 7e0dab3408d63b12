"""One reconciliation run: every chosen mode on every collection, in-flight mismatches of
the previous run re-checked, the result written as JSON.

A run only reads both sides; what it writes (``state``) is replaced whole at the end, so
a run killed midway leaves the previous state intact and the next run gives the full
result.
"""

from __future__ import annotations

import datetime as dt
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
    # A live source is ahead of landing by DMS's latency, so a difference seen for the
    # first time may be a change still on its way: it waits for the next run's re-check.
    # A snapshot is a fixed point: its differences are judged at once.
    live_source: bool = False


def reconcile(
    source: Side, table: Side, lake: LakeState, options: Options, state: StateFiles, progress: Progress, label: str
) -> RunResult:
    result = RunResult(dt.datetime.now(dt.UTC), label, lake.schema)
    previous = state.latest() or {}
    result.changed_through = dict(previous.get("changed_through", {}))
    waiting = state.load_in_flight()
    for collection in options.collections:
        earlier = sorted({m.key for m in waiting if m.collection == collection})
        if earlier:
            progress.say(f"{collection}: re-checking {len(earlier)} mismatch(es) that were in flight")
            check = CheckResult("recheck", collection, compared=len(earlier))
            check.mismatches = compare_keys(collection, earlier, source, table)
            result.checks.append(_mark_in_flight(check, lake, first_sighting=False, options=options))
        for mode in options.modes:
            progress.say(f"{collection}: {mode}")
            check = _run_mode(mode, collection, source, table, lake, options, result.changed_through)
            if mode == "counts" and options.live_source and check.count_differs:
                check.count_in_flight |= not _count_differed(previous, collection)
            result.checks.append(_mark_in_flight(check, lake, first_sighting=True, options=options))
    result.carried_in_flight = [m for m in waiting if m.collection not in options.collections]
    result.finished_at = dt.datetime.now(dt.UTC)
    return result


def _run_mode(
    mode: str,
    collection: str,
    source: Side,
    table: Side,
    lake: LakeState,
    options: Options,
    changed_through: dict[str, str | None],
) -> CheckResult:
    if mode == "counts":
        return check_counts(collection, source, table, lake)
    if mode == "changed":
        since = changed_through.get(collection)
        check = check_changed(collection, source, table, lake, dt.datetime.fromisoformat(since) if since else None)
        changed_through[collection] = check.details["applied_through"]
        return check
    if mode == "sample":
        return check_sample(collection, source, table, options.sample_size, options.seed)
    if mode == "full":
        return check_full(collection, source, table, options.bisection)
    raise ValueError(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")


def _mark_in_flight(check: CheckResult, lake: LakeState, first_sighting: bool, options: Options) -> CheckResult:
    """In flight: the key has a landed change the table has not applied, or (live source)
    the difference is seen for the first time and waits for its re-check."""
    if check.mismatches:
        pending = lake.pending(check.collection).keys  # listed once per collection by the lake
        waits = first_sighting and options.live_source
        check.mismatches = [
            Mismatch(m.collection, m.key, m.kind, waits or m.key in pending, m.fields) for m in check.mismatches
        ]
    return check


def _count_differed(previous: dict, collection: str) -> bool:
    return any(
        c["mode"] == "counts" and c["collection"] == collection and c["source_count"] != c["table_count"]
        for c in previous.get("checks", [])
    )
