"""Make a run's report and keep it with the others, in a local folder or on S3:

runs/<run id>/report.html, report.json, junit.xml   one folder per run
latest/report.html, report.json, junit.xml          the newest, at a fixed address
history.json, index.html                            every run, for the charts and the list
data-docs/                                          GX Data Docs (S3 only; locally linked in place)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..catalog import Catalog
from ..quality.result import QualityResult
from ..storage import LocalStore, Store, store_for
from .facts import LakeFacts
from .model import HistoryPoint, Report, build_report
from .render import render_html, render_index, render_json, render_junit

HISTORY = "history.json"


@dataclass(frozen=True)
class PublishedReport:
    report: Report
    html: str  # where the run's HTML report is
    latest: str
    index: str


def load_history(store: Store) -> list[HistoryPoint]:
    text = store.read(HISTORY)
    return [HistoryPoint(**point) for point in json.loads(text)] if text else []


def make_report(
    reconciliation: dict | None,
    quality: QualityResult | None,
    facts: LakeFacts,
    store: Store,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    history: list[HistoryPoint] | None = None,
) -> PublishedReport:
    """Judge the run, render it and publish it beside the earlier runs (``history``, read
    from ``store`` unless given)."""
    now = now or dt.datetime.now(dt.UTC)
    run_id = run_id or now.strftime("%Y%m%dT%H%M%SZ")
    report = build_report(
        run_id=run_id,
        reconciliation=reconciliation,
        quality=quality,
        facts=facts,
        history=load_history(store) if history is None else history,
        collections=facts.collections,
        table_collections=facts.table_collections,
        now=now,
    )
    return publish(report, store)


def publish(report: Report, store: Store) -> PublishedReport:
    data_docs = _data_docs_location(report, store)
    report.dbt_docs = _dbt_docs_location(store)
    folder = run_folder(report.run_id)
    documents = {"report.json": render_json(report), "junit.xml": render_junit(report)}
    html = store.write(
        f"{folder}/report.html",
        render_html(report, _link(data_docs, 2), "../../index.html", _link(report.dbt_docs, 2)),
    )
    for place in (folder, "latest"):
        for name, text in documents.items():
            store.write(f"{place}/{name}", text)
    latest = store.write(
        "latest/report.html", render_html(report, _link(data_docs, 1), "../index.html", _link(report.dbt_docs, 1))
    )
    history = [asdict(point) for point in report.history]
    store.write(HISTORY, json.dumps(history, indent=2))
    links = {point["run_id"]: f"{run_folder(point['run_id'])}/report.html" for point in history}
    index = store.write("index.html", render_index(history, links))
    return PublishedReport(report, html, latest, index)


def _data_docs_location(report: Report, store: Store) -> str | None:
    """A path relative to the reports folder: in place locally, copied beside them on S3."""
    if not report.data_docs:
        return None
    site = Path(report.data_docs)
    if isinstance(store, LocalStore):
        return os.path.relpath(site, store.folder)
    if site.is_file():
        for path in site.parent.rglob("*"):
            if path.is_file():
                store.write(f"data-docs/{path.relative_to(site.parent)}", path.read_bytes())
        return "data-docs/index.html"
    return None


def _dbt_docs_location(store: Store) -> str | None:
    """The dbt docs site (`cdclake docs`): ``CDCLAKE_DBT_DOCS_URL`` where it is hosted, or,
    for local reports, the site written beside them (``<data>/docs/index.html``)."""
    if os.environ.get("CDCLAKE_DBT_DOCS_URL"):
        return os.environ["CDCLAKE_DBT_DOCS_URL"]
    if isinstance(store, LocalStore) and (store.folder.parent / "docs" / "index.html").is_file():
        return os.path.relpath(store.folder.parent / "docs" / "index.html", store.folder)
    return None


def _link(location: str | None, depth: int) -> str | None:
    """``location`` (relative to the reports folder) as seen from a page ``depth`` folders down."""
    if location is None or "://" in location:
        return location
    return "../" * depth + location


def run_folder(run_id: str) -> str:
    """Where a run's report is kept, under the reports' root."""
    return "runs/" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def report_on_lake(
    spark, schema: str, catalog: Catalog, reports: str | Path, reconcile_state: str | Path,
    quality_results: str | Path, run_id: str | None = None,
) -> PublishedReport:  # fmt: skip
    """The report of the newest reconciliation and validation results, and of the applies
    since the previous report."""
    from ..quality.validate import QualityResults
    from ..reconcile.state import StateFiles
    from .lake_facts import read_lake_facts

    store = store_for(reports)
    history = load_history(store)
    # Events are counted from where the previous report stopped.
    facts = read_lake_facts(spark, schema, history[-1].applied_through if history else None, catalog)
    return make_report(
        StateFiles(reconcile_state).latest(),
        QualityResults(quality_results).latest(),
        facts,
        store,
        run_id,
        history=history,
    )
