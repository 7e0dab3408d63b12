"""`cdclake demo` (what `make demo` runs) end to end, twice: the second run applies only new files."""

from __future__ import annotations

import re

import pytest

from cdclake.cli import main

pytestmark = pytest.mark.slow
APPLIED = re.compile(r"applied this run: ([\d,]+) events from (\d+) new landing file")
ROW = re.compile(r"^(clients|engagements|invoices|journal_entries)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)$", re.M)


def run_demo(capsys: pytest.CaptureFixture[str]) -> tuple[int, int, dict[str, tuple[int, int]]]:
    assert main(["demo", "--documents", "600", "--events", "300", "--rows-per-file", "200"]) == 0
    out = capsys.readouterr().out
    events, files = (int(n.replace(",", "")) for n in APPLIED.search(out).groups())
    tables = {m[0]: (int(m[1].replace(",", "")), int(m[3].replace(",", ""))) for m in ROW.findall(out)}
    assert "dbt build: OK" in out
    return events, files, tables


def test_demo_twice(workspace, spark, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDCLAKE_SCHEMA", "demo")
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(workspace / "demo"))

    first_events, first_files, first_tables = run_demo(capsys)
    assert first_events >= 600 + 2 * 300
    assert all(table_rows == source_docs for table_rows, source_docs in first_tables.values()), first_tables

    second_events, second_files, second_tables = run_demo(capsys)
    assert 300 <= second_events < first_events  # one batch (and one re-landed file), not the history
    assert second_files < first_files
    assert all(table_rows == source_docs for table_rows, source_docs in second_tables.values()), second_tables
    assert second_tables != first_tables
