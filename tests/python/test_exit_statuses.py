"""Exit statuses of `cdclake reconcile`, `cdclake checks` and the EMR job's entry point
(orchestration/jobs/checks_job.py), through the real command line: the work behind them
is replaced by a stand-in that returns a chosen verdict or crashes. Fast: no Spark, no dbt.

reconcile: 0 reconciled or in flight, 1 confirmed discrepancies, 2 usage, 3 a crash.
checks:    0 green or amber, 1 red, 2 usage, 3 a crash.
EMR job:   as checks, except red, which is a verdict and not a failed job: 0.
"""

from __future__ import annotations

import datetime as dt
import runpy
import types
from pathlib import Path
from typing import ClassVar

import pytest

from cdclake.cli import main
from cdclake.reconcile.result import Mismatch, ModeResult, RunResult

from repo import REPO

START = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
EMR_JOB = REPO / "orchestration" / "jobs" / "checks_job.py"


class Crash(RuntimeError):
    pass


def run_result(verdict: str) -> RunResult:
    check = ModeResult("sample", "invoices", compared=10)
    if verdict in ("in_flight", "discrepancies"):
        check.mismatches = [Mismatch("invoices", '"INV-1"', "differs", in_flight=verdict == "in_flight")]
    result = RunResult(started_at=START, source="SnapshotSource('dump')", table_schema="ledger", checks=[check])
    result.finished_at = START
    assert result.status == verdict
    return result


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """A data directory with a (empty) snapshot folder; the arguments that point at it."""
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(tmp_path))
    (tmp_path / "dump").mkdir()
    return ["--quiet", "--snapshot", str(tmp_path / "dump")]


def stand_in(verdict):
    def run(*args, **kwargs):
        if isinstance(verdict, Exception):
            raise verdict
        return verdict

    return run


@pytest.mark.parametrize(
    ("verdict", "code"),
    [("reconciled", 0), ("in_flight", 0), ("discrepancies", 1), (Crash("disk on fire"), 3)],
    ids=["reconciled", "in_flight", "discrepancies", "crash"],
)
def test_reconcile_exit_status(local, monkeypatch, capsys, verdict, code: int) -> None:
    import cdclake.reconcile.command as command

    answer = verdict if isinstance(verdict, Exception) else (run_result(verdict), "runs/r.json")
    monkeypatch.setattr(command, "reconcile_and_save", stand_in(answer))
    assert main(["reconcile", *local]) == code
    if code == 3:  # a crash says where, and never reads as discrepancies
        err = capsys.readouterr().err
        assert "Crash: disk on fire" in err and "Traceback" in err
        assert "the run stopped unexpectedly (the trace above says where)" in err


def test_reconcile_usage_error_exits_2_before_reading_anything(local, monkeypatch, capsys) -> None:
    import cdclake.reconcile.command as command

    monkeypatch.setattr(command, "reconcile_and_save", stand_in(Crash("must not be reached")))
    assert main(["reconcile", *local, "--sample-size", "0"]) == 2
    assert "--sample-size and --leaf-size must be positive" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({}, "dbt manifest"),  # no dbt build yet: says what to run
        ({"CDCLAKE_ORPHAN_FILE_AGE_DAYS": "0.5"}, "CDCLAKE_ORPHAN_FILE_AGE_DAYS (0.5) must be at least 1 day"),
        ({"CDCLAKE_IN_FLIGHT_LIMIT_RUNS": "0"}, "CDCLAKE_IN_FLIGHT_LIMIT_RUNS=0"),
    ],
)
def test_a_setting_or_a_missing_build_exits_2_before_spark_starts(local, monkeypatch, capsys, environment, says):
    import cdclake.spark

    monkeypatch.setattr(cdclake.spark, "get_or_create_session", stand_in(Crash("Spark must not start")))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    command = ["reconcile", *local] if "IN_FLIGHT" in str(environment) else ["maintain"]
    assert main(command) == 2
    assert says in capsys.readouterr().err


def checks_stand_in(verdict):
    """run_checks, which returns the published report (its status is the verdict), or crashes."""
    if isinstance(verdict, Exception):
        return stand_in(verdict)
    return stand_in(types.SimpleNamespace(report=types.SimpleNamespace(status=verdict)))


CHECKS_CASES = [
    ("green", [], 0),
    ("amber", [], 0),
    ("red", [], 1),
    (Crash("GX blew up"), [], 3),
    ("green", ["--state-uri", "elsewhere"], 2),  # checks keep every result under --results-uri
    ("green", ["--mode", ","], 2),  # no mode selected
]
CHECKS_IDS = ["green", "amber", "red", "crash", "usage", "no-mode"]


@pytest.mark.parametrize(("verdict", "args", "code"), CHECKS_CASES, ids=CHECKS_IDS)
def test_checks_exit_status(local, monkeypatch, capsys, verdict, args: list[str], code: int) -> None:
    import cdclake.checks as checks

    monkeypatch.setattr(checks, "run_checks", checks_stand_in(verdict))
    assert main(["checks", *local, *args]) == code
    if code in (2, 3):
        assert capsys.readouterr().err.startswith("error:" if code == 2 else "Traceback")


class FakeSparkSession:
    """What the job's first line touches: SparkSession.builder.appName(…).getOrCreate()."""

    created: ClassVar[list[str]] = []

    class builder:  # pyspark's spelling
        @staticmethod
        def appName(name: str):
            return types.SimpleNamespace(getOrCreate=lambda: FakeSparkSession.created.append(name))


@pytest.mark.parametrize(("verdict", "args", "code"), CHECKS_CASES, ids=CHECKS_IDS)
def test_the_emr_job_fails_only_when_it_could_not_check(local, monkeypatch, verdict, args: list[str], code: int):
    import pyspark.sql

    import cdclake.checks as checks

    monkeypatch.setattr(pyspark.sql, "SparkSession", FakeSparkSession)
    monkeypatch.setattr(FakeSparkSession, "created", [])
    monkeypatch.setattr(checks, "run_checks", checks_stand_in(verdict))
    monkeypatch.setattr("sys.argv", [str(EMR_JOB), *local[1:], *args])  # the job adds --quiet itself
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(EMR_JOB), run_name="__main__")
    assert exit_.value.code == (0 if code == 1 else code)  # red is the DAG's verdict to give, not a failed job
    assert FakeSparkSession.created == ["cdclake-checks"]  # the cluster's session, made before cdclake's
