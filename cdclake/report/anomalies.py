"""Anomalies and freshness: each collection judged against its own history.

Per collection, three figures of every run are compared with the same figure in earlier
comparable runs (the report's history): the events applied, the change in rows, and the
CDC lag. Comparable means the same weekday and hour once there are enough of those, else
the same kind of day (weekday or weekend), else every run, so that a quiet weekend is
compared with weekends. A figure further from the median of its baseline than
``THRESHOLD`` robust deviations (the median absolute deviation, scaled) is an anomaly:
amber, with the usual range said. Until there are ``MIN_HISTORY`` runs nothing is judged,
and the report says so ("cold start"): a heuristic that has not started yet takes nothing
away from the checks that prove the lake right, so it is no reason for amber.

Freshness is the time since a change was last applied to the collection's table, against
the freshness its dbt source declares (``warn_after`` amber, ``error_after`` red): the
dbt project is the one place that says how quiet a collection may be.
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_HISTORY = 8  # runs of history before anything is judged
MIN_COMPARABLE = 3  # runs in a weekday-and-hour slot (or kind of day) before it is the baseline
THRESHOLD = 4.0  # robust deviations from the baseline's median that make an anomaly


@dataclass(frozen=True)
class Observation:
    at: dt.datetime
    value: float


@dataclass(frozen=True)
class Finding:
    """One figure of this run judged against its baseline."""

    metric: str
    value: float
    low: float
    high: float
    basis: str  # which runs it was compared with, in words

    @property
    def anomalous(self) -> bool:
        return not self.low <= self.value <= self.high

    def describe(self) -> str:
        usual = f"{_number(self.low)} to {_number(self.high)}"
        if self.low == float("-inf"):
            usual = f"up to {_number(self.high)}"
        return f"{self.metric} {_number(self.value)} (usual for {self.basis}: {usual})"


def baseline(history: Sequence[Observation], now: dt.datetime) -> tuple[list[float], str]:
    """The earlier values comparable with a run at ``now``, and what they are."""
    slot = [o.value for o in history if o.at.weekday() == now.weekday() and o.at.hour == now.hour]
    if len(slot) >= MIN_COMPARABLE:
        return slot, f"{now:%A}s around {now:%H}:00"
    weekend = now.weekday() >= 5
    kind = [o.value for o in history if (o.at.weekday() >= 5) == weekend]
    if len(kind) >= MIN_COMPARABLE:
        return kind, "weekends" if weekend else "weekdays"
    return [o.value for o in history], "all runs"


def judge(
    metric: str, history: Sequence[Observation], value: float, now: dt.datetime, high_only: bool = False
) -> Finding:
    """``value`` of ``metric`` at ``now`` against its baseline in ``history``. ``high_only``:
    only too high is an anomaly (a lag, where less is better)."""
    values, basis = baseline(history, now)
    median = statistics.median(values)
    deviation = statistics.median(abs(v - median) for v in values) * 1.4826
    # A perfectly regular history has no deviation: allow a tenth of its level, and 1.
    spread = THRESHOLD * max(deviation, 0.1 * abs(median), 1.0)
    return Finding(metric, value, float("-inf") if high_only else median - spread, median + spread, basis)


@dataclass(frozen=True)
class RunFigures:
    """One collection's figures in one run (a history point, or this run)."""

    at: dt.datetime
    events_applied: int | None
    rows: int | None
    cdc_lag_seconds: float | None


def anomalies(history: Sequence[RunFigures], now: RunFigures) -> list[Finding] | None:
    """This run's figures judged against the earlier runs; None on a cold start."""
    if len(history) < MIN_HISTORY:
        return None
    found = []
    events = [Observation(p.at, p.events_applied) for p in history if p.events_applied is not None]
    if now.events_applied is not None and events:
        found.append(judge("events applied", events, now.events_applied, now.at))
    changes = [
        Observation(later.at, later.rows - earlier.rows)
        for earlier, later in itertools.pairwise(history)
        if earlier.rows is not None and later.rows is not None
    ]
    if now.rows is not None and history[-1].rows is not None and changes:
        found.append(judge("change in rows", changes, now.rows - history[-1].rows, now.at))
    lags = [Observation(p.at, p.cdc_lag_seconds) for p in history if p.cdc_lag_seconds is not None]
    if now.cdc_lag_seconds is not None and lags:
        found.append(judge("CDC lag (s)", lags, now.cdc_lag_seconds, now.at, high_only=True))
    return found


@dataclass(frozen=True)
class Freshness:
    warn_after: dt.timedelta | None
    error_after: dt.timedelta | None


def staleness(last_applied: dt.datetime | None, now: dt.datetime, limits: Freshness) -> tuple[str, str]:
    """(green | amber | red | not run, what to say) for a collection last changed at ``last_applied``."""
    if limits.warn_after is None and limits.error_after is None:
        return "not run", "no freshness set on its dbt source"
    if last_applied is None:
        return "amber", "no change applied yet"
    age = now - last_applied
    said = f"last change applied {_duration(age)} ago"
    if limits.error_after is not None and age >= limits.error_after:
        return "red", f"{said} (error after {_duration(limits.error_after)})"
    if limits.warn_after is not None and age >= limits.warn_after:
        return "amber", f"{said} (warn after {_duration(limits.warn_after)})"
    return "green", said


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 72 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"
