"""One reconciliation run: the open differences of earlier runs re-checked first (mode
``recheck``, cdclake/reconcile/recheck.py), then every chosen mode on every collection;
the result written as JSON.

A run only reads both sides; what it writes (``state``) is replaced whole at the end, so
a run killed midway leaves the previous state intact and the next run gives the full
result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .progress import Progress
from .recheck import InFlightLimit, carried, recheck, still_open
from .result import ModeResult, RunResult
from .sides import Side
from .state import StateFiles
from .strategies import Bisection, check_changed, check_counts, check_full, check_sample

if TYPE_CHECKING:  # the lake side is Spark's; the run's rules load without it
    from .lake import LakeState

MODES = ("counts", "changed", "sample", "full")


class UsageError(Exception):
    """A problem the operator fixes by changing a setting or running a step first (exit 2)."""


def parse_modes(texts: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``--mode`` values, repeated or comma-separated, ``all`` for every mode; ``None`` (no
    ``--mode`` given) is ``all``. An empty selection (``--mode ""``) is a usage error: a
    run that checks nothing must not pass for a run that found nothing."""
    if texts is None:
        return MODES
    asked = [mode.strip() for text in texts for mode in text.split(",") if mode.strip()]
    if not asked:
        raise UsageError(f"no reconciliation mode selected: choose one or more of {', '.join(MODES)}, or all")
    unknown = sorted(set(asked) - {*MODES, "all"})
    if unknown:
        raise UsageError(f"unknown mode(s) {', '.join(unknown)}: choose from {', '.join(MODES)} or all")
    return MODES if "all" in asked else tuple(dict.fromkeys(asked))


@dataclass(frozen=True)
class Options:
    modes: tuple[str, ...] = MODES
    collections: tuple[str, ...] | None = None  # None: every collection of the dbt project
    sample_size: int = 100
    seed: int = 0
    bisection: Bisection = field(default_factory=Bisection)
    # A live source is ahead of landing by DMS's latency, so a difference seen for the
    # first time may be a change still on its way: it waits for the next run's re-check.
    # A snapshot is a fixed point: its differences are judged at once.
    live_source: bool = False
    # How long a difference may stay in flight before it is confirmed (recheck.py).
    in_flight_limit: InFlightLimit = field(default_factory=InFlightLimit)

    def __post_init__(self) -> None:
        # Options are also built in code (the DAG's task, from CDCLAKE_RECONCILE_MODES).
        if not self.modes or set(self.modes) - set(MODES):
            parse_modes(list(self.modes))  # says what is wrong
            raise UsageError(f"modes {self.modes!r}: choose from {', '.join(MODES)}")


def reconcile(
    source: Side, table: Side, lake: LakeState, options: Options, state: StateFiles, progress: Progress, label: str
) -> RunResult:
    result = RunResult(dt.datetime.now(dt.UTC), label, lake.schema)
    previous = state.latest() or {}
    result.changed_through = dict(previous.get("changed_through", {}))
    opened = state.load_open()
    if options.collections is None:
        raise ValueError("Options.collections must be resolved against the catalog first (Catalog.select)")
    for collection in options.collections:
        earlier = [d for d in opened if d.collection == collection]
        confirmed: set[str] = set()
        if earlier:
            progress.say(f"{collection}: re-checking {len(earlier)} open difference(s) of earlier runs")
            check = recheck(collection, earlier, source, table, lake, result.started_at, options.in_flight_limit)
            confirmed = {m.key for m in check.confirmed}
            result.checks.append(check)
        for mode in options.modes:
            progress.say(f"{collection}: {mode}")
            check = _run_mode(mode, collection, source, table, lake, options, result.changed_through)
            if mode == "counts" and options.live_source and check.count_differs:
                check.count_in_flight |= not _count_differed(previous, collection)
            result.checks.append(_mark_in_flight(check, lake, options, confirmed))
    for collection in sorted({d.collection for d in opened} - set(options.collections)):
        result.checks.append(carried(collection, [d for d in opened if d.collection == collection]))
    result.open_differences = still_open(opened, result.checks, result.started_at.isoformat())
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
) -> ModeResult:
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


def _mark_in_flight(check: ModeResult, lake: LakeState, options: Options, confirmed: set[str]) -> ModeResult:
    """In flight: the key has a landed change the table has not applied, or (live source)
    the difference is seen for the first time and waits for its re-check. A key this run's
    re-check ``confirmed`` stays confirmed whichever mode finds it again."""
    if check.mismatches:
        pending = lake.pending(check.collection).keys  # listed once per collection by the lake
        waits = [m.key not in confirmed and (options.live_source or m.key in pending) for m in check.mismatches]
        check.mismatches = [replace(m, in_flight=wait) for m, wait in zip(check.mismatches, waits, strict=True)]
    return check


def _count_differed(previous: dict, collection: str) -> bool:
    return any(
        c["mode"] == "counts" and c["collection"] == collection and c["source_count"] != c["table_count"]
        for c in previous.get("checks", [])
    )
