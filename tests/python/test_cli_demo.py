"""`cdclake demo` (what `make demo` runs) end to end, twice: the first run ends green; the
second, `--inject-faults`, applies only the new files, ends red and exits 1."""

from __future__ import annotations

import re

import pytest

from cdclake.cli import main

from dbt_project_tests import declared_tests

pytestmark = pytest.mark.slow
APPLIED = re.compile(r"applied this run: ([\d,]+) events from (\d+) new landing file")
ROW = re.compile(r"^(clients|engagements|invoices|journal_entries)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)$", re.M)


def run_demo(
    capsys: pytest.CaptureFixture[str], *extra: str, exit_code: int = 0
) -> tuple[int, int, dict[str, tuple[int, int]], str]:
    assert main(["demo", "--documents", "600", "--events", "300", "--rows-per-file", "200", *extra]) == exit_code
    out = capsys.readouterr().out
    events, files = (int(n.replace(",", "")) for n in APPLIED.search(out).groups())
    tables = {m[0]: (int(m[1].replace(",", "")), int(m[3].replace(",", ""))) for m in ROW.findall(out)}
    return events, files, tables, out


def test_demo_twice(workspace, spark, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDCLAKE_SCHEMA", "demo")
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(workspace / "demo"))

    first_events, first_files, first_tables, out = run_demo(capsys)
    assert f"dbt build: OK   models 12 ok, tests {len(declared_tests())} passed, 0 failed, 0 warned" in out
    assert "Data quality: GREEN: Every check passed: the lake matches MongoDB" in out
    assert first_events >= 600 + 2 * 300
    assert all(table_rows == source_docs for table_rows, source_docs in first_tables.values()), first_tables

    # The next batch, with capture faults (Simulator.inject_faults): red, exit 1.
    second_events, second_files, second_tables, out = run_demo(capsys, "--inject-faults", exit_code=1)
    assert "injected 5 faults" in out
    assert "dbt build: FAILED" in out  # the corrupted invoice status fails accepted_values
    assert re.search(r"Data quality: RED: \d+ confirmed difference\(s\) between MongoDB and the lake", out)
    assert 300 <= second_events < first_events  # one batch (and one re-landed file), not the history
    assert second_files < first_files
    # One document only the lake has (clients), one only the source has (engagements).
    differences = {name: rows - docs for name, (rows, docs) in second_tables.items()}
    assert differences == {"clients": 1, "engagements": -1, "invoices": 0, "journal_entries": 0}, second_tables
    assert second_tables != first_tables
