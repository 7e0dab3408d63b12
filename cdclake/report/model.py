"""The report as values: overall status and reason, one summary per collection, and the
history the charts draw. Built from the run's results; no I/O here.

Status: red when something is confirmed wrong (a confirmed reconciliation mismatch, of
this run or of an earlier one not resolved yet, a failing dbt test or Great Expectations
expectation), amber when something is not yet known to be right (differences still in
flight, landed input held in quarantine, a check that did not run, dbt warnings), green
otherwise. Each check's status is the one its result gives (the reconciliation's own
``status``), never judged again here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from ..quality.result import QualityResult
from ..reconcile.recheck import describe_age
from .anomalies import MIN_HISTORY, Freshness, RunFigures, anomalies, staleness
from .facts import DbtTest, LakeFacts, QuarantinedFile

GREEN, AMBER, RED = "green", "amber", "red"
REPORT_SCHEMA_VERSION = 1
RECONCILE_MODES = {
    "counts": "Counts vs MongoDB",
    "changed": "Changed documents",
    "sample": "Sampled documents",
    "full": "Checksum (every document)",
}
EARLIER = "Earlier differences"  # the reconciliation's re-check of open differences
QUARANTINE = "Quarantine"
ACCOUNTING = "Every landed row accounted for"
MAINTENANCE = "Table maintenance"
ANOMALIES = "Against its history"
FRESHNESS = "Freshness"
NOT_RUN = "not run"
# Lines that may be "not run" on purpose: a mode left for the nightly run, a history too
# short to judge yet, a source without a freshness limit (anomalies.py says why).
_SCHEDULED = {*RECONCILE_MODES.values(), EARLIER, ANOMALIES, FRESHNESS}
_NAMES_SHOWN = 3
OTHER = "pipeline"  # dbt tests of models that belong to no one collection (schema drift)


@dataclass
class ReportLine:
    """One line of the report: a check, its outcome, and what it saw."""

    name: str
    status: str  # GREEN, AMBER, RED, or "not run"
    summary: str


@dataclass
class CollectionReport:
    collection: str
    status: str
    rows: int | None
    source_documents: int | None
    events_applied: int
    events_quarantined: int  # rows quarantined by the applies since the previous report
    files_quarantined: int  # whole files quarantined by the applies since the previous report
    cdc_lag_seconds: float | None
    checks: list[ReportLine] = field(default_factory=list)
    confirmed: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)  # open differences that agree now
    # Everything held in quarantine (every run): {rows, whole_files, files[]}.
    quarantined: dict[str, Any] = field(default_factory=dict)
    dbt_failures: list[dict[str, Any]] = field(default_factory=list)
    gx_failures: list[dict[str, Any]] = field(default_factory=list)
    # Its tables (current state, marts) and their dbt unique_ids: links to the dbt docs site.
    tables: dict[str, str | None] = field(default_factory=dict)


@dataclass
class HistoryPoint:
    run_id: str
    generated_at: str
    status: str
    rows: dict[str, int | None]
    confirmed: dict[str, int]
    in_flight: dict[str, int]
    events_applied: dict[str, int]
    cdc_lag_seconds: dict[str, float | None]
    applied_through: str | None = None  # the next report counts events applied after this


@dataclass
class Report:
    run_id: str
    generated_at: str
    status: str
    reason: str
    collections: list[CollectionReport]
    pipeline_checks: list[ReportLine]
    history: list[HistoryPoint]
    data_docs: str | None = None
    dbt_docs: str | None = None  # the dbt docs site (models, columns, tests, lineage), when built
    tables: list[dict[str, Any]] = field(default_factory=list)  # every table's files, snapshots, upkeep
    sources: dict[str, str | None] = field(default_factory=dict)
    applied_through: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": REPORT_SCHEMA_VERSION, **asdict(self)}

    def history_point(self) -> HistoryPoint:
        return HistoryPoint(
            run_id=self.run_id,
            generated_at=self.generated_at,
            status=self.status,
            rows={c.collection: c.rows for c in self.collections},
            confirmed={c.collection: len(c.confirmed) for c in self.collections},
            in_flight={c.collection: len(c.in_flight) for c in self.collections},
            events_applied={c.collection: c.events_applied for c in self.collections},
            cdc_lag_seconds={c.collection: c.cdc_lag_seconds for c in self.collections},
            applied_through=self.applied_through,
        )


def build_report(
    run_id: str,
    reconciliation: dict[str, Any] | None,
    quality: QualityResult | None,
    facts: LakeFacts,
    history: list[HistoryPoint],
    collections: list[str],
    table_collections: dict[str, str],
    now: dt.datetime | None = None,
) -> Report:
    """Judge the run. ``table_collections`` maps each model to its collection."""
    now = now or dt.datetime.now(dt.UTC)
    reports = [
        _collection_report(name, reconciliation, quality, facts, table_collections, history, now)
        for name in collections
    ]
    pipeline = _pipeline_checks(reconciliation, quality, facts, table_collections)
    status, reason = _overall(reports, pipeline, facts)
    report = Report(
        run_id=run_id,
        generated_at=now.isoformat(),
        status=status,
        reason=reason,
        collections=reports,
        pipeline_checks=pipeline,
        history=[],
        data_docs=quality.data_docs if quality else None,
        sources={
            "reconciliation": reconciliation.get("source") if reconciliation else None,
            "reconciled_at": reconciliation.get("finished_at") if reconciliation else None,
            "validated_at": quality.finished_at if quality else None,
        },
        applied_through=facts.through,
        tables=[asdict(health) for health in facts.tables],
    )
    report.history = [*history, report.history_point()]
    return report


def _collection_report(
    name, reconciliation, quality, facts: LakeFacts, table_collections, history: list[HistoryPoint], now: dt.datetime
) -> CollectionReport:
    checks_by_mode = {c["mode"]: c for c in (reconciliation or {}).get("checks", []) if c["collection"] == name}
    counts = checks_by_mode.get("counts") or checks_by_mode.get("full") or {}
    confirmed, in_flight = _mismatches(name, checks_by_mode.values(), reconciliation)
    quarantined = facts.quarantine.get(name, [])
    report = CollectionReport(
        collection=name,
        status=GREEN,
        rows=counts.get("table_count"),
        source_documents=counts.get("source_count"),
        events_applied=facts.events_applied.get(name, 0),
        events_quarantined=facts.events_quarantined.get(name, 0),
        files_quarantined=facts.files_quarantined.get(name, 0),
        cdc_lag_seconds=facts.lag_seconds.get(name),
        confirmed=confirmed,
        in_flight=in_flight,
        resolved=list((checks_by_mode.get("recheck") or {}).get("details", {}).get("resolved", [])),
        quarantined={
            "rows": sum(f.rows for f in quarantined),
            "whole_files": sum(1 for f in quarantined if f.whole_file),
            "files": [{**asdict(f), "name": f.name} for f in quarantined],
        },
    )
    report.tables = {model: facts.model_ids.get(model) for model, owner in table_collections.items() if owner == name}
    for mode in RECONCILE_MODES:
        report.checks.append(_reconcile_check(mode, checks_by_mode.get(mode)))
    report.checks.append(_earlier_check(checks_by_mode))
    report.checks.append(_quarantine_check(quarantined))
    report.checks.append(_accounting_check(facts.unaccounted.get(name, 0)))
    dbt_tests = [t for t in facts.dbt_tests if _collection_of(t.model, table_collections) == name]
    report.checks.append(_dbt_check(dbt_tests))
    report.dbt_failures = [asdict(t) for t in dbt_tests if t.status not in ("pass", "success")]
    suites = [s for s in (quality.suites if quality else []) if s.collection == name]
    report.checks.append(_gx_check(suites, quality is not None))
    report.gx_failures = [{"table": s.table, "key": s.key, **asdict(e)} for s in suites for e in s.failed]
    report.checks.append(_history_check(report, history, now))
    report.checks.append(_freshness_check(name, facts, now))
    report.status = _worst(c.status for c in report.checks if not _by_schedule(c))
    return report


def _mismatches(name: str, checks, reconciliation) -> tuple[list[dict], list[dict]]:
    """Confirmed and in-flight differences, once per key (confirmed by any check wins), each
    with when it was first seen, its age at the end of the reconciliation and how many runs
    re-checked it (from the open differences)."""
    opened = {d["key"]: d for d in (reconciliation or {}).get("open_differences", []) if d["collection"] == name}
    finished = (reconciliation or {}).get("finished_at")
    now = dt.datetime.fromisoformat(finished) if finished else None
    by_key: dict[str, dict] = {}
    for mismatch in (m for check in checks for m in check["mismatches"]):
        kept = by_key.get(mismatch["key"])
        if kept is None or (kept["in_flight"] and not mismatch["in_flight"]):
            difference = opened.get(mismatch["key"], {})
            by_key[mismatch["key"]] = {
                **mismatch,
                "note": mismatch.get("note") or (kept or {}).get("note"),
                "first_seen": difference.get("first_seen"),
                "age": describe_age(difference.get("first_seen"), now) if now else None,
                "rechecks": difference.get("rechecks", 0),
            }
    found = sorted(by_key.values(), key=lambda m: m["key"])
    return [m for m in found if not m["in_flight"]], [m for m in found if m["in_flight"]]


def _history_check(report: CollectionReport, history: list[HistoryPoint], now: dt.datetime) -> ReportLine:
    """This run's events applied, change in rows and CDC lag against the earlier runs'."""
    name = report.collection
    earlier = [
        RunFigures(
            dt.datetime.fromisoformat(point.generated_at),
            point.events_applied.get(name),
            point.rows.get(name),
            point.cdc_lag_seconds.get(name),
        )
        for point in history
        if name in point.events_applied
    ]
    findings = anomalies(earlier, RunFigures(now, report.events_applied, report.rows, report.cdc_lag_seconds))
    if findings is None:
        return ReportLine(ANOMALIES, NOT_RUN, f"cold start: {len(earlier)} of {MIN_HISTORY} runs of history")
    odd = [finding for finding in findings if finding.anomalous]
    if odd:
        return ReportLine(ANOMALIES, AMBER, "unusual: " + "; ".join(finding.describe() for finding in odd))
    return ReportLine(ANOMALIES, GREEN, f"as usual ({', '.join(f.metric for f in findings)})")


def _freshness_check(name: str, facts: LakeFacts, now: dt.datetime) -> ReportLine:
    last = facts.last_change_applied.get(name)
    limits = facts.freshness.get(name, Freshness(None, None))
    status, text = staleness(dt.datetime.fromisoformat(last) if last else None, now, limits)
    return ReportLine(FRESHNESS, status, text)


def _by_schedule(check: ReportLine) -> bool:
    """A reconciliation mode this run was not asked for (``full`` runs nightly, say): shown
    as not run, but no reason for amber; a dbt or GX check that did not run is."""
    return check.status == NOT_RUN and check.name in _SCHEDULED


def _status_of(result_status: str) -> str:
    """A reconciliation check's own status, in the report's words."""
    return {"discrepancies": RED, "in_flight": AMBER}.get(result_status, GREEN)


def _reconcile_check(mode: str, check: dict[str, Any] | None) -> ReportLine:
    label = RECONCILE_MODES[mode]
    if check is None:
        return ReportLine(label, NOT_RUN, "not scheduled in this run")
    confirmed, in_flight = _difference_counts(check)
    if mode == "counts":
        text = f"MongoDB {check['source_count']:,} · lake {check['table_count']:,}"
    elif mode == "full":
        text = f"{check['source_count']:,} documents checksummed"
    else:
        text = f"{check['compared']:,} documents compared"
    if confirmed:
        text += f" · {confirmed} confirmed difference(s)"
    if in_flight:
        text += f" · {in_flight} in flight"
    return ReportLine(label, _status_of(check["status"]), text)


def _difference_counts(check: dict[str, Any]) -> tuple[int, int]:
    """A reconciliation check's differences: (confirmed, in flight)."""
    confirmed = sum(1 for m in check["mismatches"] if not m["in_flight"])
    return confirmed, len(check["mismatches"]) - confirmed


def _earlier_check(checks_by_mode: dict[str, dict[str, Any]]) -> ReportLine:
    """The differences earlier runs left open: re-checked by key first (``recheck``), or,
    for a collection this run did not check, listed again as they were (``carried``)."""
    if "carried" in checks_by_mode:
        check = checks_by_mode["carried"]
        return ReportLine(
            EARLIER,
            _status_of(check["status"]),
            f"{len(check['mismatches'])} still open from earlier runs, not re-checked (collection not checked)",
        )
    check = checks_by_mode.get("recheck")
    if check is None:
        if not checks_by_mode:
            return ReportLine(EARLIER, NOT_RUN, "not reconciled in this run")
        return ReportLine(EARLIER, GREEN, "none open")
    confirmed, in_flight = _difference_counts(check)
    text = f"{check['compared']} re-checked · {len(check['details'].get('resolved', []))} resolved"
    if confirmed:
        text += f" · {confirmed} still differ"
    if in_flight:
        text += f" · {in_flight} in flight"
    return ReportLine(EARLIER, _status_of(check["status"]), text)


def _quarantine_check(files: list[QuarantinedFile]) -> ReportLine:
    """Landed input that never reached the tables: amber for as long as it is held."""
    if not files:
        return ReportLine(QUARANTINE, GREEN, "nothing held")
    return ReportLine(QUARANTINE, AMBER, f"{_quarantine_counts(files)} held back, not in the lake")


def _accounting_check(unaccounted: int) -> ReportLine:
    """Landed = applied + superseded + quarantined, each counted by the apply on its own
    (macros/cdc/accounting.sql): a row in none of them was lost."""
    if unaccounted == 0:
        return ReportLine(ACCOUNTING, GREEN, "landed = applied + superseded + quarantined")
    return ReportLine(
        ACCOUNTING,
        RED,
        f"{abs(unaccounted)} landed row(s) {'missing from' if unaccounted > 0 else 'counted twice in'} the "
        "apply's accounting (dms_apply_log): rebuild the table with --full-refresh once the cause is fixed",
    )


def _quarantine_counts(files: list[QuarantinedFile]) -> str:
    whole = sum(1 for f in files if f.whole_file)
    rows = sum(f.rows for f in files)
    parts = [f"{whole} whole file(s)"] if whole else []
    if rows:
        parts.append(f"{rows:,} row(s)")
    return " and ".join(parts) or f"{len(files)} file(s)"


def _quarantine_reason(collection: str, files: list[QuarantinedFile]) -> str:
    """E.g. "invoices: 2 landing file(s) that could not be read at all (a.parquet,
    b.parquet) and 8 row(s) that could not be applied (from c.parquet)"."""
    whole = [f for f in files if f.whole_file]
    partial = [f for f in files if f.rows]
    parts = []
    if whole:
        parts.append(f"{len(whole)} landing file(s) that could not be read at all ({_file_names(whole)})")
    if partial:
        rows = sum(f.rows for f in partial)
        parts.append(f"{rows:,} row(s) that could not be applied (from {_file_names(partial)})")
    return f"{collection}: " + " and ".join(parts or [f"{len(files)} file(s)"])


def _file_names(files: list[QuarantinedFile]) -> str:
    names = [f.name for f in files[:_NAMES_SHOWN]]
    if len(files) > _NAMES_SHOWN:
        names.append(f"and {len(files) - _NAMES_SHOWN} more")
    return ", ".join(names)


def _dbt_check(tests: list[DbtTest]) -> ReportLine:
    if not tests:
        return ReportLine("dbt tests", NOT_RUN, "no dbt test results recorded")
    failed = [t for t in tests if t.status in ("fail", "error")]
    warned = [t for t in tests if t.status == "warn"]
    text = f"{len(tests) - len(failed) - len(warned)} of {len(tests)} passed"
    if failed:
        return ReportLine("dbt tests", RED, text + f" · {len(failed)} failed")
    if warned:
        return ReportLine("dbt tests", AMBER, text + f" · {len(warned)} warned")
    return ReportLine("dbt tests", GREEN, text)


def _gx_check(suites, ran: bool) -> ReportLine:
    if not ran:
        return ReportLine("Great Expectations", NOT_RUN, "not validated in this run")
    if not suites:
        return ReportLine("Great Expectations", NOT_RUN, "no suite for this collection: add one under expectations/")
    total = sum(len(s.expectations) for s in suites)
    failed = sum(len(s.failed) for s in suites)
    text = f"{total - failed} of {total} expectations met ({', '.join(s.table for s in suites)})"
    return ReportLine("Great Expectations", GREEN if all(s.success for s in suites) else RED, text)


def _pipeline_checks(reconciliation, quality, facts: LakeFacts, table_collections) -> list[ReportLine]:
    tests = [t for t in facts.dbt_tests if _collection_of(t.model, table_collections) == OTHER]
    checks = [_dbt_check(tests)] if tests else []
    if facts.tables:
        checks.append(_maintenance_check(facts))
    if reconciliation is None:
        checks.append(ReportLine("Reconciliation", NOT_RUN, "no reconciliation result found"))
    if quality is None:
        checks.append(ReportLine("Great Expectations", NOT_RUN, "no validation result found"))
    return checks


def _maintenance_check(facts: LakeFacts) -> ReportLine:
    """Amber when a table holds more old snapshots than maintenance would have left: its
    upkeep (cdclake maintain, the nightly DAG) has not run. The judgement is the
    maintenance's own (``TableHealth.overdue``)."""
    overdue = [health.table for health in facts.tables if health.overdue]
    if overdue:
        return ReportLine(
            MAINTENANCE, AMBER, f"overdue for {', '.join(overdue)}: run `cdclake maintain` (or the nightly DAG)"
        )
    files = sum(health.data_files for health in facts.tables)
    deletes = sum(health.delete_files for health in facts.tables)
    size = sum(health.bytes for health in facts.tables) / 1e6
    return ReportLine(
        MAINTENANCE,
        GREEN,
        f"{len(facts.tables)} tables: {files:,} data files, {deletes:,} delete files, {size:,.1f} MB",
    )


def _collection_of(model: str, table_collections: dict[str, str]) -> str:
    return table_collections.get(model, OTHER)


def _worst(statuses) -> str:
    statuses = set(statuses)
    if RED in statuses:
        return RED
    if AMBER in statuses or NOT_RUN in statuses:
        return AMBER
    return GREEN


def _overall(
    collections: list[CollectionReport], pipeline: list[ReportLine], facts: LakeFacts | None = None
) -> tuple[str, str]:
    status = _worst([c.status for c in collections] + [c.status for c in pipeline])
    reasons = []
    confirmed = [c for c in collections if c.confirmed]
    if confirmed:
        total = sum(len(c.confirmed) for c in confirmed)
        reasons.append(f"{total} confirmed difference(s) between MongoDB and the lake ({_names(confirmed)})")
    unbalanced = [c for c in collections if any(k.name == ACCOUNTING and k.status == RED for k in c.checks)]
    if unbalanced:
        reasons.append(f"landed rows the apply did not account for ({_names(unbalanced)})")
    failing_dbt = [c for c in collections if any(t["status"] in ("fail", "error") for t in c.dbt_failures)]
    if failing_dbt:
        reasons.append(f"dbt tests failing ({_names(failing_dbt)})")
    warned_dbt = [c for c in collections if any(t["status"] == "warn" for t in c.dbt_failures)]
    if warned_dbt:
        reasons.append(f"dbt tests at warn level ({_names(warned_dbt)})")
    failing_gx = [c for c in collections if c.gx_failures]
    if failing_gx:
        total = sum(len(c.gx_failures) for c in failing_gx)
        reasons.append(f"{total} data-quality expectation(s) not met ({_names(failing_gx)})")
    red_counts = [
        c for c in collections if any(k.name == RECONCILE_MODES["counts"] and k.status == RED for k in c.checks)
    ]
    if red_counts and not confirmed:
        reasons.append(f"row counts differ from MongoDB ({_names(red_counts)})")
    held = [(c.collection, (facts.quarantine if facts else {}).get(c.collection, [])) for c in collections]
    held = [(name, files) for name, files in held if files]
    if held:
        reasons.append(
            "landed changes held in quarantine, so missing from the lake: "
            + "; ".join(_quarantine_reason(name, files) for name, files in held)
        )
    in_flight = [c for c in collections if c.in_flight]
    if in_flight:
        total = sum(len(c.in_flight) for c in in_flight)
        reasons.append(
            f"{total} difference(s) still in flight, waiting for changes that have landed but are not applied "
            f"({_names(in_flight)})"
        )
    not_run = sorted(
        {k.name for c in collections for k in c.checks if k.status == NOT_RUN and not _by_schedule(k)}
        | {k.name for k in pipeline if k.status == NOT_RUN}
    )
    if not_run:
        reasons.append(f"not checked this run: {', '.join(not_run)}")
    for line in (FRESHNESS, ANOMALIES):
        flagged = [
            (c.collection, k) for c in collections for k in c.checks if k.name == line and k.status in (RED, AMBER)
        ]
        if flagged:
            reasons.append("; ".join(f"{name}: {check.summary}" for name, check in flagged))
    for check in pipeline:
        if check.status in (RED, AMBER) and check.name == "dbt tests":
            reasons.append(f"pipeline dbt tests: {check.summary}")
        if check.status == AMBER and check.name == MAINTENANCE:
            reasons.append(f"Iceberg table maintenance {check.summary}")
    if status == GREEN:
        return status, "Every check passed: the lake matches MongoDB and the books pass every data-quality rule."
    return status, "; ".join(reasons) + "."


def _names(collections: list[CollectionReport]) -> str:
    return ", ".join(c.collection for c in collections)
