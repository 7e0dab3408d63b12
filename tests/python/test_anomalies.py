"""Anomalies judged against a collection's own history, and freshness, on synthetic
histories (cdclake/report/anomalies.py). Fast: no Spark."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from test_report import facts, quality, reconciliation

from cdclake.report.anomalies import MIN_HISTORY, Freshness, RunFigures, anomalies, staleness
from cdclake.report.model import ANOMALIES, FRESHNESS, HistoryPoint, build_report

MONDAY = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def busy_office(weeks: int = 3, seed: int = 1) -> list[RunFigures]:
    """Hourly runs: weekdays 9–18 h busy, nights and weekends quiet; rows grow with events."""
    rng = random.Random(seed)
    runs, rows = [], 100_000
    for hour in range(weeks * 7 * 24):
        at = MONDAY + dt.timedelta(hours=hour)
        office = at.weekday() < 5 and 9 <= at.hour < 18
        events = max(0, round(rng.gauss(1000, 60) if office else rng.gauss(15, 4)))
        rows += events // 4
        runs.append(RunFigures(at, events, rows, rng.uniform(40, 90)))
    return runs


def run_at(history: list[RunFigures], day: int, hour: int, events: int, rows_added: int, lag: float) -> RunFigures:
    at = MONDAY + dt.timedelta(weeks=3, days=day, hours=hour)
    return RunFigures(at, events, history[-1].rows + rows_added, lag)


@pytest.mark.parametrize(
    ("day", "hour", "events", "rows_added", "lag", "unusual"),
    [
        (5, 14, 12, 3, 60, set()),  # a quiet Saturday afternoon: quiet is what Saturdays are
        (6, 3, 20, 5, 55, set()),  # a Sunday night
        (1, 14, 1_010, 250, 70, set()),  # a busy Tuesday afternoon
        (1, 14, 12, 3, 60, {"events applied", "change in rows"}),  # a Tuesday afternoon as quiet as a Saturday
        (5, 14, 1_000, 250, 60, {"events applied", "change in rows"}),  # a Saturday as busy as a Tuesday
        (1, 14, 1_000, -40_000, 60, {"change in rows"}),  # rows vanish on an ordinary day
        (1, 14, 1_000, 250, 3_600, {"CDC lag (s)"}),  # changes waited an hour in landing
        (1, 14, 1_000, 250, 5, set()),  # a short lag is never an anomaly
    ],
)
def test_a_run_is_judged_against_comparable_runs(day, hour, events, rows_added, lag, unusual) -> None:
    history = busy_office()
    findings = anomalies(history, run_at(history, day, hour, events, rows_added, lag))
    assert {f.metric for f in findings if f.anomalous} == unusual
    assert {f.metric for f in findings} == {"events applied", "change in rows", "CDC lag (s)"}


def test_the_baseline_is_the_same_weekday_and_hour_once_there_are_enough() -> None:
    history = busy_office(weeks=3)
    (events, *_) = anomalies(history, run_at(history, 5, 14, 12, 3, 60))
    assert events.basis == "Saturdays around 14:00"  # three Saturdays at 14:00 in three weeks
    short = busy_office(weeks=1)
    (events, *_) = anomalies(short, run_at(short, -14 + 5, 14, 12, 3, 60))
    assert events.basis == "weekends"  # one Saturday at 14:00 is not enough: every weekend hour
    assert "usual for weekends" in events.describe()


def test_a_cold_start_judges_nothing_and_says_so() -> None:
    history = busy_office()[: MIN_HISTORY - 1]
    assert anomalies(history, run_at(history, 0, 0, 10**6, 0, 10**6)) is None
    points = [
        HistoryPoint(f"r{i}", p.at.isoformat(), "green", {"invoices": p.rows}, {}, {}, {"invoices": p.events_applied},
                     {"invoices": p.cdc_lag_seconds})
        for i, p in enumerate(history)
    ]  # fmt: skip
    lake = facts(10)
    report = build_report("now", reconciliation(0, 0), quality(False), lake, points, ["invoices"],
                          lake.table_collections, now=MONDAY + dt.timedelta(days=1))  # fmt: skip
    (line,) = [c for c in report.collections[0].checks if c.name == ANOMALIES]
    assert (line.status, line.summary) == ("not run", f"cold start: {MIN_HISTORY - 1} of {MIN_HISTORY} runs of history")
    assert report.status == "green"  # a heuristic not started yet takes nothing from the proofs


def test_an_anomaly_makes_the_report_amber_and_says_what_is_usual() -> None:
    history = busy_office()
    points = [
        HistoryPoint(f"r{i}", p.at.isoformat(), "green", {"invoices": p.rows}, {}, {}, {"invoices": p.events_applied},
                     {"invoices": p.cdc_lag_seconds})
        for i, p in enumerate(history)
    ]  # fmt: skip
    quiet_tuesday = MONDAY + dt.timedelta(weeks=3, days=1, hours=14)
    lake = facts(3)  # 3 events applied on a Tuesday afternoon
    report = build_report(
        "now", reconciliation(0, 0), quality(False), lake, points, ["invoices"], lake.table_collections, quiet_tuesday
    )
    (line,) = [c for c in report.collections[0].checks if c.name == ANOMALIES]
    assert line.status == "amber" and line.summary.startswith("unusual: events applied 3 (usual for Tuesdays")
    assert report.status == "amber" and "invoices: unusual: events applied 3" in report.reason


HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("ago", "limits", "status", "says"),
    [
        (dt.timedelta(minutes=20), Freshness(DAY, 3 * DAY), "green", "last change applied 20 min ago"),
        (30 * HOUR, Freshness(DAY, 3 * DAY), "amber", "last change applied 30 h ago (warn after 24 h)"),
        (4 * DAY, Freshness(DAY, 3 * DAY), "red", "last change applied 4 d ago (error after 3 d)"),
        (2 * HOUR, Freshness(HOUR, None), "amber", "(warn after 60 min)"),
        (2 * HOUR, Freshness(None, HOUR), "red", "(error after 60 min)"),
        (None, Freshness(DAY, 3 * DAY), "amber", "no change applied yet"),
        (4 * DAY, Freshness(None, None), "not run", "no freshness set on its dbt source"),
    ],
)
def test_freshness_follows_the_sources_limits(ago, limits, status, says) -> None:
    now = MONDAY + 10 * DAY
    assert staleness(None if ago is None else now - ago, now, limits)[0] == status
    assert says in staleness(None if ago is None else now - ago, now, limits)[1]


def test_a_stale_collection_turns_the_report_red_naming_it() -> None:
    now = MONDAY + 10 * DAY
    lake = facts(0)
    lake.freshness = {"invoices": Freshness(DAY, 3 * DAY)}
    lake.last_change_applied = {"invoices": (now - 5 * DAY).isoformat()}
    report = build_report(
        "now", reconciliation(0, 0), quality(False), lake, [], ["invoices"], lake.table_collections, now
    )
    (line,) = [c for c in report.collections[0].checks if c.name == FRESHNESS]
    assert line.status == "red" and report.status == "red"
    assert "invoices: last change applied 5 d ago (error after 3 d)" in report.reason
