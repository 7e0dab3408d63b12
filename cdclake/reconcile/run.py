"""One reconciliation run: every chosen mode on every collection, in-flight mismatches of
the previous run re-checked, the result written as JSON.

A run only reads both sides; what it writes (the result and the in-flight list) is
replaced atomically at the end, so a run killed midway leaves the previous state whole
and the next run gives the full result.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..generator.documents import COLLECTIONS
from .lake import LakeState
from .progress import Progress
from .result import CheckResult, FieldDifference, Mismatch, RunResult
from .sides import Side
from .strategies import Bisection, check_changed, check_counts, check_full, check_sample, compare_keys

MODES = ("counts", "changed", "sample", "full")


@dataclass(frozen=True)
class Options:
    modes: tuple[str, ...] = MODES
    collections: tuple[str, ...] = COLLECTIONS
    sample_size: int = 100
    seed: int = 0
    bisection: Bisection = field(default_factory=Bisection)


@dataclass(frozen=True)
class StateFiles:
    """Where runs leave their results: ``latest.json``, ``runs/<time>.json`` and the
    in-flight mismatches waiting for a re-check."""

    folder: Path

    @property
    def latest(self) -> Path:
        return self.folder / "latest.json"

    @property
    def in_flight(self) -> Path:
        return self.folder / "in_flight.json"

    def load_in_flight(self) -> list[Mismatch]:
        if not self.in_flight.is_file():
            return []
        return [
            Mismatch(**{**item, "fields": tuple(FieldDifference(**f) for f in item["fields"])})
            for item in json.loads(self.in_flight.read_text())
        ]

    def save(self, result: RunResult) -> Path:
        in_flight = [asdict(m) for check in result.checks for m in check.mismatches if m.in_flight]
        document = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        run_file = self.folder / "runs" / f"{result.started_at:%Y%m%dT%H%M%S%fZ}.json"
        for path, text in ((run_file, document), (self.latest, document), (self.in_flight, json.dumps(in_flight))):
            _write_atomically(path, text)
        return run_file


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".inprogress")
    tmp.write_text(text)
    os.replace(tmp, path)


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
