"""The report's three forms: HTML for people, JSON for tools, JUnit XML for CI."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2

from ..redaction import Redactor
from .charts import bar_chart, line_chart
from .model import AMBER, ANOMALIES, FRESHNESS, NOT_RUN, QUARANTINE, RED, Report

TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(report: Report, data_docs_link: str | None, history_link: str, dbt_docs_link: str | None = None) -> str:
    """One page, every asset inline: opens from disk with no network."""
    labels = [_short_time(point.generated_at) for point in report.history]
    collections = [c.collection for c in report.collections]

    def per_collection(attribute: str) -> dict[str, list]:
        return {name: [getattr(p, attribute).get(name) for p in report.history] for name in collections}

    mismatch_series = {
        "confirmed": [sum(p.confirmed.values()) for p in report.history],
        "in flight": [sum(p.in_flight.values()) for p in report.history],
    }
    charts = [
        {"title": "Rows in the lake", "note": "Live documents per collection, at each run.",
         "svg": line_chart("row-counts", "Rows in the lake per run", labels, per_collection("rows"), "rows")},
        {"title": "Differences found", "note": "Confirmed (red) and in-flight (amber) differences from MongoDB.",
         "svg": bar_chart("mismatches", "Differences per run", labels, mismatch_series, "documents",
                          colours=("#b3261e", "#e39b00"))},
        {"title": "CDC lag", "note": "Longest wait of a change file in landing before it reached the tables.",
         "svg": line_chart("cdc-lag", "CDC lag per run", labels, per_collection("cdc_lag_seconds"), "seconds")},
        {"title": "Events applied", "note": "Changes from MongoDB written to the lake, per run.",
         "svg": bar_chart("events-applied", "Events applied per run", labels,
                          {n: [v or 0 for v in vs] for n, vs in per_collection("events_applied").items()}, "events")},
    ]  # fmt: skip
    return _ENV.get_template("report.html.j2").render(
        report=report,
        generated=_short_time(report.generated_at, with_date=True),
        check_names=[check.name for check in report.collections[0].checks] if report.collections else [],
        charts=charts,
        data_docs=data_docs_link,
        dbt_docs=dbt_docs_link,
        history_link=history_link,
        sensitive=Redactor.from_env().patterns,
        fmt_int=lambda v: "—" if v is None else f"{v:,}",
        fmt_lag=_lag,
        when=lambda text: _short_time(text, with_date=True),
    )


ALERTS_MARK = "<!-- cdclake:alerts -->"


def with_alerts(html: str, outcomes: list[dict]) -> str:
    """A published report with the alerts its run sent (``AlertOutcome`` as dicts), in the
    place the template keeps for them: who was told, and any alert that was not delivered."""
    fragment = _ENV.get_template("alerts.html.j2").render(outcomes=outcomes)
    return html.replace(ALERTS_MARK, fragment + ALERTS_MARK, 1)


def render_index(history: list[dict], links: dict[str, str]) -> str:
    """The list of every run, newest first, each linking to its report."""
    return _ENV.get_template("index.html.j2").render(
        runs=[{**point, "link": links.get(point["run_id"])} for point in reversed(history)],
        when=lambda text: _short_time(text, with_date=True),
    )


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def render_junit(report: Report) -> str:
    """One test suite per kind of check; each check on each collection is a test case, and
    only red ones fail (amber ones pass with the reason in system-out)."""
    root = ET.Element("testsuites", name=f"cdclake data quality {report.run_id}")
    suites: dict[str, ET.Element] = {}
    for collection in report.collections:
        for check in collection.checks:
            kind = _SUITES.get(check.name, "reconciliation")
            suite = suites.get(kind)
            if suite is None:
                suite = suites[kind] = ET.SubElement(root, "testsuite", name=kind)
            case = ET.SubElement(suite, "testcase", classname=f"{kind}.{collection.collection}", name=check.name)
            if check.status == RED:
                failure = ET.SubElement(case, "failure", message=check.summary)
                failure.text = _failure_text(collection, check.name)
            elif check.status == NOT_RUN:
                ET.SubElement(case, "skipped", message=check.summary)
            elif check.status == AMBER:
                ET.SubElement(case, "system-out").text = "\n".join(
                    [check.summary, *(_quarantined_lines(collection) if check.name == QUARANTINE else ())]
                )
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_SUITES = {
    "dbt tests": "dbt tests",
    "Great Expectations": "Great Expectations",
    QUARANTINE: "quarantine",
    ANOMALIES: "history",
    FRESHNESS: "freshness",
}


def _quarantined_lines(collection) -> list[str]:
    files = collection.quarantined.get("files", [])
    held = ["whole file" if f["whole_file"] else f"{f['rows']} row(s)" for f in files]
    return [f"{f['path']}: {what} — {'; '.join(f['reasons'])}" for f, what in zip(files, held, strict=True)]


def _failure_text(collection, check_name: str) -> str:
    if check_name == "dbt tests":
        return "\n".join(f"{t['name']}: {t['status']} ({t['failures']} rows)" for t in collection.dbt_failures)
    if check_name == "Great Expectations":
        return "\n".join(
            f"{f['table']}: {f['description']} — {f['rows_failed']} row(s); examples: {f['examples']}"
            for f in collection.gx_failures
        )
    return "\n".join(
        f"{m['key']}: {m['kind']}" + "".join(f"\n  {f['path']}: {f['source']} ≠ {f['table']}" for f in m["fields"])
        for m in collection.confirmed
    )


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _short_time(text: str, with_date: bool = False) -> str:
    moment = dt.datetime.fromisoformat(text)
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%m-%d %H:%M")
