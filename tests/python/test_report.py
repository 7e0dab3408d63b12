"""The data-quality report: judged and rendered from result files (no Spark, no network),
opened in headless Chromium, and made end to end on a lake with injected faults, where no
sensitive value may reach any output."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cdclake.maintenance import TableHealth
from cdclake.quality.result import ExpectationOutcome, QualityResult, SuiteOutcome
from cdclake.reconcile.result import FieldDifference, Mismatch, ModeResult, RunResult
from cdclake.redaction import REDACTED, Redactor
from cdclake.report.facts import DbtTest, LakeFacts, QuarantinedFile
from cdclake.report.publish import make_report
from cdclake.storage import LocalStore

COLLECTIONS = ("clients", "engagements", "invoices", "journal_entries")
START = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def reconciliation(confirmed: int, in_flight: int) -> dict:
    """A reconciliation result (as RunResult writes it): invoices with differences."""
    result = RunResult(started_at=START, source="SnapshotSource('dump')", table_schema="ledger")
    for collection in COLLECTIONS:
        for mode in ("counts", "changed", "sample", "full"):
            check = ModeResult(mode, collection, compared=100, source_count=1000, table_count=1000)
            if collection == "invoices" and mode == "full":
                check.mismatches = [
                    Mismatch("invoices", f"inv{i}", "differs", fields=(FieldDifference("status", '"paid"', '"void"'),))
                    for i in range(confirmed)
                ] + [Mismatch("invoices", f"late{i}", "missing_in_table", in_flight=True) for i in range(in_flight)]
            result.checks.append(check)
    result.finished_at = START + dt.timedelta(minutes=2)
    return result.to_json()


def quality(failing: bool) -> QualityResult:
    outcome = ExpectationOutcome(
        "expect_column_pair_values_a_to_be_greater_than_b", "An invoice falls due on or after its issue date.",
        ("due_at", "issued_at"), success=not failing, rows_checked=1000,
        rows_failed=1 if failing else 0,
        examples=({"invoice_id": "inv7", "due_at": "2025-01-09", "issued_at": "2025-01-10"},) if failing else (),
    )  # fmt: skip
    formats = ExpectationOutcome("expect_column_values_to_match_regex", "Codes look right.", ("code",), True, 1000, 0)
    suites = [SuiteOutcome(c, c, "id", 1000, [formats]) for c in COLLECTIONS if c != "invoices"]
    suites.append(SuiteOutcome("invoices", "invoices", "invoice_id", 1000, [outcome, formats]))
    return QualityResult("q1", "spark", START.isoformat(), START.isoformat(), suites, data_docs=None)


def facts(events: int) -> LakeFacts:
    return LakeFacts(
        through=START.isoformat(),
        collections=list(COLLECTIONS),
        events_applied=dict.fromkeys(COLLECTIONS, events),
        events_quarantined=dict.fromkeys(COLLECTIONS, 0),
        lag_seconds=dict.fromkeys(COLLECTIONS, 42.0),
        dbt_tests=[DbtTest(f"unique_{c}_id", c, "pass", 0, None, START.isoformat()) for c in COLLECTIONS],
        table_collections={model: c for c in COLLECTIONS for model in (c, f"current_{c}")},
    )


@pytest.fixture
def three_runs(tmp_path: Path):
    """Green, then amber (in flight), then red (confirmed + a failing expectation)."""
    store = LocalStore(tmp_path / "reports")
    runs = [(0, 0, False), (0, 3, False), (2, 1, True)]
    published = [
        make_report(reconciliation(c, f), quality(q), facts(100 * (i + 1)), store, run_id=f"run{i}",
                    now=START + dt.timedelta(hours=i))
        for i, (c, f, q) in enumerate(runs)
    ]  # fmt: skip
    return store, published


def test_status_follows_the_worst_check_and_says_why(three_runs) -> None:
    _, published = three_runs
    assert [p.report.status for p in published] == ["green", "amber", "red"]
    assert published[0].report.reason.startswith("Every check passed")
    assert "3 difference(s) still in flight" in published[1].report.reason
    red = published[2].report.reason
    assert "2 confirmed difference(s) between MongoDB and the lake (invoices)" in red
    assert "1 data-quality expectation(s) not met (invoices)" in red
    invoices = next(c for c in published[2].report.collections if c.collection == "invoices")
    assert (len(invoices.confirmed), len(invoices.in_flight)) == (2, 1)
    assert [c.status for c in published[2].report.collections] == ["green", "green", "red", "green"]


def test_the_report_renders_from_result_files_with_nothing_to_fetch(three_runs) -> None:
    _, published = three_runs
    page = Path(published[-1].html).read_text()
    assert 'data-status="red"' in page and "2 confirmed difference(s)" in page
    assert page.count('class="chart"') == 4
    assert "<script" not in page and "<link" not in page and "<img" not in page
    # The only URL is the SVG namespace, an identifier that is never fetched.
    assert set(re.findall(r"[a-z]+://[^\s\"'<>]*", page)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in page  # and the page forbids fetching anything at all
    assert "inv7" in page and "An invoice falls due on or after its issue date." in page
    assert Path(published[-1].latest).read_text().count('class="chart"') == 4


def test_history_json_and_junit_describe_every_run(three_runs) -> None:
    store, _ = three_runs
    history = json.loads((store.folder / "history.json").read_text())
    assert [h["status"] for h in history] == ["green", "amber", "red"]
    assert [h["events_applied"]["invoices"] for h in history] == [100, 200, 300]
    index = (store.folder / "index.html").read_text()
    assert all(f"runs/run{i}/report.html" in index for i in range(3))
    report = json.loads((store.folder / "runs/run2/report.json").read_text())
    assert report["schema_version"] == 1 and report["status"] == "red"
    junit = ET.parse(store.folder / "latest/junit.xml").getroot()
    failures = [
        c.get("classname") + "/" + c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None
    ]
    assert sorted(failures) == [
        "Great Expectations.invoices/Great Expectations",
        "reconciliation.invoices/Checksum (every document)",
    ]
    # Per collection: four modes, earlier differences, quarantine, accounting, dbt tests, expectations,
    # its history and its freshness.
    assert sum(int(s.get("tests")) for s in junit.iter("testsuite")) == 4 * 11


def test_redactor_covers_nested_values_and_follows_the_setting(monkeypatch) -> None:
    redactor = Redactor()
    document = {"name": "Acme", "partner": {"email": "p@x.example", "role": "lead"}, "tags": [{"iban": "DE00"}]}
    assert redactor.value("", document) == {
        "name": REDACTED, "partner": {"email": REDACTED, "role": "lead"}, "tags": [{"iban": REDACTED}]
    }  # fmt: skip
    assert redactor.is_sensitive("address.city") and redactor.is_sensitive("address_city")
    assert not redactor.is_sensitive("status")
    monkeypatch.setenv("CDCLAKE_SENSITIVE_FIELDS", "status, notes")
    assert Redactor.from_env().is_sensitive("status") and not Redactor.from_env().is_sensitive("email")


def test_headless_chromium_shows_the_status_and_the_charts(three_runs, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    _, published = three_runs
    requested = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(Path(published[-1].html).as_uri(), wait_until="load")
        status = page.locator("#status")
        assert status.is_visible() and status.get_attribute("data-status") == "red"
        assert status.inner_text().startswith("RED")
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 150
        names = {charts.nth(i).get_attribute("data-chart") for i in range(4)}
        assert names == {"row-counts", "mismatches", "cdc-lag", "events-applied"}
        assert page.locator('svg[data-chart="row-counts"] circle.point').count() == 4 * 3
        assert page.locator('svg[data-chart="mismatches"] rect.bar').count() == 3  # in flight, then both
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    assert all(url.startswith("file://") for url in requested), requested
    if os.environ.get("CDCLAKE_SCREENSHOT"):
        Path(os.environ["CDCLAKE_SCREENSHOT"]).write_bytes(shot.read_bytes())


# As the machine's notes advise: no background traffic on a closed network, no sandbox as root.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def sensitive_values(dataset) -> set[str]:
    """Every sensitive value the source holds (long enough not to occur by chance)."""
    redactor = Redactor()
    values = set()

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{path}.{name}" if path else name)
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, str) and len(value) >= 6 and redactor.is_sensitive(path):
            values.add(value)

    for collection in ("clients", "engagements"):
        for document in dataset.simulator.live_documents(collection):
            walk(document, "")
    return values


def spellings(value: str) -> set[str]:
    return {value, html.escape(value), html.escape(value, quote=False), json.dumps(value)[1:-1]}


@pytest.mark.slow
def test_a_faulty_lake_gets_a_red_report_that_shows_no_sensitive_value(faulty, spark, tmp_path: Path) -> None:
    from cdclake.catalog import load_catalog
    from cdclake.cli import main
    from cdclake.dbt_runner import run_dbt
    from cdclake.quality.validate import validate_lake
    from cdclake.report.publish import report_on_lake

    build = run_dbt(["build", "--exclude", "current_state"], faulty.paths, schema=faulty.schema)
    assert not build.success  # the corrupted invoice status fails accepted_values
    quality = validate_lake(spark, faulty.schema, tmp_path / "quality", progress=lambda _: None)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDCLAKE_DATA_DIR", str(faulty.paths.data_dir))
        env.setenv("CDCLAKE_SCHEMA", faulty.schema)
        assert main(["reconcile", "--quiet", "--mode", "counts,full", "--state-uri", str(tmp_path / "rec")]) == 1
    catalog = load_catalog(faulty.paths)
    published = report_on_lake(
        spark, faulty.schema, catalog, tmp_path / "reports", tmp_path / "rec", tmp_path / "quality" / "results"
    )
    report = published.report

    assert report.status == "red"
    by_name = {c.collection: c for c in report.collections}
    (email_fault,) = [f for f in faulty.faults if f.kind == "corrupted_sensitive_field"]
    (email_diff,) = [m for m in by_name["clients"].confirmed if m["key"] == email_fault.key]
    assert email_diff["fields"] == [{"path": "email", "source": f'"{REDACTED}"', "table": f'"{REDACTED}"'}]
    (email_rule,) = [f for f in by_name["clients"].gx_failures if tuple(f["columns"]) == ("email",)]
    assert email_rule["rows_failed"] == 1 and list(email_rule["examples"]) == [
        {"client_id": email_fault.key, "email": REDACTED}
    ]
    assert any(t["name"].startswith("accepted_values_invoices_status") for t in by_name["invoices"].dbt_failures)
    # One fault, one red line: the status set is a dbt rule, and no suite restates it.
    assert not any("status" in f["columns"] for f in by_name["invoices"].gx_failures)
    assert quality.status == "failed"

    secrets = sensitive_values(faulty)
    assert len(secrets) > 500  # client names, emails, tax ids, addresses, partners
    outputs = [p for folder in ("reports", "rec", "quality") for p in (tmp_path / folder).rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in outputs) and any(p.name == "junit.xml" for p in outputs)
    assert any("data_docs" in str(p) for p in outputs)  # GX's Data Docs and stored results too
    for path in outputs:
        text = path.read_text(errors="replace")
        leaked = {value for value in secrets if any(s in text for s in spellings(value))}
        assert not leaked, f"{path} shows {sorted(leaked)[:3]}"


def test_a_mode_left_for_the_nightly_run_is_no_reason_for_amber_but_a_missing_check_is(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    hourly = reconciliation(0, 0)
    hourly["checks"] = [check for check in hourly["checks"] if check["mode"] != "full"]
    report = make_report(hourly, quality(failing=False), facts(1), store, run_id="hourly").report
    assert report.status == "green"
    assert {k.status for c in report.collections for k in c.checks if k.name.startswith("Checksum")} == {"not run"}
    unvalidated = make_report(hourly, None, facts(1), store, run_id="unvalidated").report
    assert unvalidated.status == "amber" and "not checked this run: Great Expectations" in unvalidated.reason


TRUNCATED = QuarantinedFile(
    "s3://landing/dms/ledger/invoices/2026/11/30/20261130-081500123.parquet", True, 0,
    ("not a Parquet file (or truncated): no rows could be read",), START.isoformat(),
)  # fmt: skip
BAD_ROWS = QuarantinedFile(
    "s3://landing/dms/ledger/invoices/2026/11/30/20261130-090000456.parquet", False, 3,
    ('missing _id: the key column is null or empty', 'unknown Op "X"'), START.isoformat(),
)  # fmt: skip


def test_any_quarantine_keeps_the_report_amber_and_names_the_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    held = facts(10)
    held.quarantine = {"invoices": [TRUNCATED, BAD_ROWS]}
    held.events_quarantined["invoices"], held.files_quarantined = 3, {"invoices": 1}
    published = make_report(reconciliation(0, 0), quality(failing=False), held, store, run_id="held")
    report = published.report
    assert report.status == "amber"
    assert report.reason == (
        "landed changes held in quarantine, so missing from the lake: invoices: 1 landing file(s) that could not be "
        "read at all (20261130-081500123.parquet) and 3 row(s) that could not be applied "
        "(from 20261130-090000456.parquet)."
    )
    assert [c.status for c in report.collections] == ["green", "green", "amber", "green"]
    (quarantine,) = [k for k in report.collections[2].checks if k.name == "Quarantine"]
    assert quarantine.status == "amber"
    assert quarantine.summary == "1 whole file(s) and 3 row(s) held back, not in the lake"

    invoices = json.loads((store.folder / "runs/held/report.json").read_text())["collections"][2]
    assert (invoices["events_quarantined"], invoices["files_quarantined"]) == (3, 1)
    assert {k: v for k, v in invoices["quarantined"].items() if k != "files"} == {"rows": 3, "whole_files": 1}
    assert [(f["name"], f["whole_file"], f["rows"]) for f in invoices["quarantined"]["files"]] == [
        ("20261130-081500123.parquet", True, 0),
        ("20261130-090000456.parquet", False, 3),
    ]
    page = Path(published.html).read_text()
    assert TRUNCATED.path in page and "quarantined: 3 row(s), 1 whole file(s)" in page
    assert "missing _id: the key column is null or empty; unknown Op &#34;X&#34;" in page  # the reasons
    junit = ET.parse(store.folder / "latest/junit.xml").getroot()
    (case,) = [c for c in junit.iter("testcase") if c.get("classname") == "quarantine.invoices"]
    assert case.find("failure") is None and TRUNCATED.path in case.find("system-out").text

    # Nothing resolves a quarantine yet: the next report, with no new input quarantined, is amber still.
    later = facts(10)
    later.quarantine = {"invoices": [TRUNCATED]}
    again = make_report(reconciliation(0, 0), quality(failing=False), later, store, run_id="later").report
    assert again.status == "amber" and "20261130-081500123.parquet" in again.reason
    # Red stays red, and says both.
    red = make_report(reconciliation(1, 0), quality(failing=False), held, store, run_id="red").report
    assert red.status == "red" and "1 confirmed difference(s)" in red.reason and "quarantine" in red.reason


def rechecked(result: dict, still: list[str], resolved: list[str], in_flight: bool = False) -> dict:
    """``result`` with an invoices re-check of open differences in front of its checks."""
    check = ModeResult("recheck", "invoices", compared=len(still) + len(resolved))
    check.mismatches = [Mismatch("invoices", key, "missing_in_table", in_flight=in_flight) for key in still]
    check.details = {"open_before": check.compared, "resolved": [
        {"key": key, "kind": "differs", "first_seen": START.isoformat()} for key in resolved
    ]}  # fmt: skip
    return {
        **result,
        "status": "discrepancies" if still and not in_flight else result["status"],
        "checks": [check.to_json(), *result["checks"]],
        "open_differences": [
            {**m, "first_seen": START.isoformat(), "last_checked": START.isoformat(), "rechecks": 2}
            for m in check.to_json()["mismatches"]
        ],
    }


def test_an_open_difference_of_an_earlier_run_stays_red_until_resolved(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    # This run's modes are all green (a sample that missed it); the re-check is not.
    published = make_report(rechecked(reconciliation(0, 0), ["inv9"], []), quality(False), facts(1), store, "open")
    report = published.report
    assert report.status == "red" and report.reason.startswith("1 confirmed difference(s) between MongoDB and the lake")
    invoices = report.collections[2]
    (earlier,) = [k for k in invoices.checks if k.name == "Earlier differences"]
    assert (earlier.status, earlier.summary) == ("red", "1 re-checked · 0 resolved · 1 still differ")
    assert [(m["key"], m["first_seen"]) for m in invoices.confirmed] == [("inv9", START.isoformat())]
    assert "2026-11-30 08:00 UTC" in Path(published.html).read_text()  # first seen

    settled = make_report(rechecked(reconciliation(0, 0), [], ["inv9"]), quality(False), facts(1), store, "ok")
    assert settled.report.status == "green"
    assert settled.report.collections[2].resolved == [
        {"key": "inv9", "kind": "differs", "first_seen": START.isoformat()}
    ]
    assert "Resolved: earlier differences" in Path(settled.html).read_text()
    others = {k.summary for c in settled.report.collections[:2] for k in c.checks if k.name == "Earlier differences"}
    assert others == {"none open"}


def test_each_check_shows_the_status_its_result_gives(tmp_path: Path) -> None:
    result = reconciliation(0, 0)
    counts = next(c for c in result["checks"] if c["mode"] == "counts" and c["collection"] == "clients")
    counts.update(source_count=1001, status="in_flight", count_in_flight=True)
    report = make_report(result, quality(False), facts(1), LocalStore(tmp_path), run_id="r").report
    assert report.status == "amber"
    assert report.collections[0].checks[0].status == "amber"


def test_a_collection_this_run_did_not_check_keeps_its_open_differences(tmp_path: Path) -> None:
    result = reconciliation(0, 0)
    result["checks"] = [c for c in result["checks"] if c["collection"] != "invoices"]
    carried = ModeResult("carried", "invoices", mismatches=[Mismatch("invoices", "inv9", "differs")])
    result["checks"].append(carried.to_json())
    report = make_report(result, quality(False), facts(1), LocalStore(tmp_path), run_id="r").report
    invoices = report.collections[2]
    assert (report.status, invoices.status, [m["key"] for m in invoices.confirmed]) == ("red", "red", ["inv9"])
    (earlier,) = [k for k in invoices.checks if k.name == "Earlier differences"]
    assert earlier.summary == "1 still open from earlier runs, not re-checked (collection not checked)"


def test_a_dbt_test_at_warn_level_makes_the_report_amber_and_says_which(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    uncast = facts(1)  # a typed column of the invoices mart could not hold a value (no_uncast_values)
    uncast.dbt_tests.append(DbtTest("no_uncast_values_invoices_uncast_fields", "invoices", "warn", 1, None, "t"))
    report = make_report(reconciliation(0, 0), quality(False), uncast, store, run_id="uncast").report
    assert report.status == "amber"
    assert [c.status for c in report.collections] == ["green", "green", "amber", "green"]
    (dbt,) = [k for k in report.collections[2].checks if k.name == "dbt tests"]
    assert (dbt.status, dbt.summary) == ("amber", "1 of 2 passed · 1 warned")
    assert report.reason == "dbt tests at warn level (invoices)."  # not an empty reason

    drift = facts(1)  # schema drift: a test of no one collection's model
    drift.dbt_tests.append(DbtTest("assert_no_schema_drift", "schema_drift", "warn", 3, None, "t"))
    report = make_report(reconciliation(0, 0), quality(False), drift, store, run_id="drift").report
    assert report.status == "amber" and {c.status for c in report.collections} == {"green"}
    assert report.reason == "pipeline dbt tests: 0 of 1 passed · 1 warned."
    assert [(k.name, k.status) for k in report.pipeline_checks] == [("dbt tests", "amber")]


def test_an_apply_that_did_not_account_for_every_row_turns_the_report_red(tmp_path: Path) -> None:
    lost = facts(10)
    lost.unaccounted = {"clients": 0, "engagements": 0, "invoices": 2, "journal_entries": 0}
    report = make_report(reconciliation(0, 0), quality(failing=False), lost, LocalStore(tmp_path), run_id="r").report
    assert report.status == "red"
    assert report.reason == "landed rows the apply did not account for (invoices)."
    (check,) = [k for k in report.collections[2].checks if k.name == "Every landed row accounted for"]
    assert check.status == "red" and check.summary.startswith("2 landed row(s) missing from the apply's accounting")
    assert [c.status for c in report.collections] == ["green", "green", "red", "green"]


def test_the_report_links_each_table_to_its_dbt_docs_page(tmp_path: Path, monkeypatch) -> None:
    store = LocalStore(tmp_path / "reports")
    lake = facts(1)
    lake.model_ids = {model: f"model.cdclake.{model}" for model in lake.table_collections}
    without_site = make_report(reconciliation(0, 0), quality(False), lake, store, run_id="before-docs")
    assert "dbt-docs" not in Path(without_site.latest).read_text()  # no site written yet: no dead links

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<html>the dbt docs site</html>")
    published = make_report(reconciliation(0, 0), quality(False), lake, store, run_id="with-docs")
    for page in (Path(published.latest), Path(published.html)):
        links = re.findall(r'class="dbt-docs" href="([^"#]+)#!/model/([^"]+)"', page.read_text())
        assert {model_id for _, model_id in links} == {f"model.cdclake.{m}" for m in lake.table_collections}
        assert all((page.parent / site).resolve() == tmp_path / "docs" / "index.html" for site, _ in links)

    monkeypatch.setenv("CDCLAKE_DBT_DOCS_URL", "https://docs.example.internal/cdclake/index.html")
    hosted = make_report(reconciliation(0, 0), quality(False), lake, store, run_id="hosted")
    assert 'href="https://docs.example.internal/cdclake/index.html#!/model/model.cdclake.current_invoices"' in (
        Path(hosted.latest).read_text()
    )


def test_an_overdue_table_maintenance_makes_the_report_amber_and_says_which(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    lake = facts(1)
    lake.tables = [
        TableHealth("current_invoices", 12, 0, 4, 3_500_000, START.isoformat(), overdue=False),
        TableHealth("invoices", 3, 0, 2, 900_000, None, overdue=False),
    ]
    kept = make_report(reconciliation(0, 0), quality(False), lake, store, run_id="kept")
    assert kept.report.status == "green"
    (line,) = [check for check in kept.report.pipeline_checks if check.name == "Table maintenance"]
    assert (line.status, line.summary) == ("green", "2 tables: 15 data files, 0 delete files, 4.4 MB")
    page = Path(kept.latest).read_text()
    assert 'class="table-health"' in page and "<code>current_invoices</code>" in page and "never" in page

    lake.tables[0] = TableHealth("current_invoices", 480, 310, 301, 9_000_000, None, overdue=True)
    overdue = make_report(reconciliation(0, 0), quality(False), lake, store, run_id="overdue").report
    assert overdue.status == "amber"
    assert "Iceberg table maintenance overdue for current_invoices: run `cdclake maintain`" in overdue.reason
    assert overdue.to_json()["tables"][0]["delete_files"] == 310


def test_a_difference_shows_its_age_and_why_it_was_confirmed(tmp_path: Path) -> None:
    result = rechecked(reconciliation(0, 0), ["inv9"], [])
    note = "in flight for 3 h 2 min over 3 re-check(s): landed file s3://landing/x.parquet not applied; …"
    result["checks"][0]["mismatches"][0]["note"] = note
    result["open_differences"][0]["first_seen"] = (START - dt.timedelta(hours=3)).isoformat()
    published = make_report(result, quality(False), facts(1), LocalStore(tmp_path), "aged")
    (difference,) = published.report.collections[2].confirmed
    assert (difference["age"], difference["rechecks"], difference["note"]) == ("3 h 2 min", 2, note)
    page = Path(published.html).read_text()
    assert "(3 h 2 min, 2 re-check(s))" in page and "s3://landing/x.parquet not applied" in page
