"""An apply that loses a commit race to table maintenance runs once more, and says so.

The race itself is timing (test_maintenance.py runs the two side by side); here each way
dbt can come back is played to ``run_dbt`` with the messages Spark and Iceberg give."""

from __future__ import annotations

import pytest

from cdclake import dbt_runner
from cdclake.dbt_runner import DbtOutcome
from cdclake.iceberg import is_commit_conflict
from cdclake.settings import Paths

# As dbt reports a MERGE refused because maintenance rewrote the files its deletes point at
MISSING_FILES = (
    "current_invoices: Runtime Error in model current_invoices: An error occurred while calling o123.sql.\n"
    ": org.apache.iceberg.exceptions.ValidationException: Cannot commit, missing data files: "
    "[file:/lake/ledger/current_invoices/data/00000-1.parquet]"
)
CONFLICTS = [
    MISSING_FILES,
    "org.apache.iceberg.exceptions.CommitFailedException: Cannot commit lake.ledger.current_invoices",
    "org.apache.iceberg.exceptions.CommitStateUnknownException: Failed to commit",
]
NOT_CONFLICTS = [
    "current_invoices: [PARSE_SYNTAX_ERROR] Syntax error at or near 'merge'",
    "assert_document_id_matches_key: Got 3 results, configured to fail if != 0",
    "",
]


@pytest.mark.parametrize("message", CONFLICTS)
def test_iceberg_commit_conflicts_are_known(message: str) -> None:
    assert is_commit_conflict(message)


@pytest.mark.parametrize("message", NOT_CONFLICTS)
def test_other_failures_are_no_commit_conflict(message: str) -> None:
    assert not is_commit_conflict(message)


def failed(node: str, message: str, invocation: str) -> DbtOutcome:
    return DbtOutcome(
        False, [invocation], {"success": ["current_clients"], "error": [node]}, message, [f"{node}: {message}"]
    )


def played(monkeypatch, outcomes: list[DbtOutcome]) -> list[list[str]]:
    """Make dbt answer with ``outcomes`` in turn; returns the arguments it was called with."""
    calls: list[list[str]] = []

    def invoke(args: list[str]) -> DbtOutcome:
        calls.append(args)
        return outcomes[len(calls) - 1]

    monkeypatch.setattr(dbt_runner, "_invoke", invoke)
    monkeypatch.setattr(dbt_runner, "_runs_in_this_process", lambda args: False)
    return calls


def test_a_model_that_lost_a_commit_race_runs_once_more(monkeypatch, tmp_path, capsys) -> None:
    calls = played(
        monkeypatch,
        [
            failed("current_invoices", MISSING_FILES, "first"),
            DbtOutcome(True, ["second"], {"success": ["current_invoices"]}),
        ],
    )
    outcome = dbt_runner.run_dbt(["run", "--select", "current_state"], Paths(tmp_path))
    assert calls == [["run", "--select", "current_state"], ["retry"]]
    assert outcome.success and outcome.error is None
    assert outcome.statuses == {"success": ["current_clients", "current_invoices"]}
    assert outcome.invocation_ids == ["first", "second"]  # the run summary reads both invocations' accounting
    assert "lost a commit" in capsys.readouterr().out


def test_a_second_loss_is_reported_not_retried_again(monkeypatch, tmp_path) -> None:
    calls = played(
        monkeypatch,
        [failed("current_invoices", MISSING_FILES, "first"), failed("current_invoices", MISSING_FILES, "second")],
    )
    outcome = dbt_runner.run_dbt(["build"], Paths(tmp_path))
    assert len(calls) == 2
    assert not outcome.success and "missing data files" in outcome.error
    assert outcome.statuses["error"] == ["current_invoices"]


@pytest.mark.parametrize("message", NOT_CONFLICTS[:2])
def test_other_failures_are_not_retried(monkeypatch, tmp_path, message: str) -> None:
    calls = played(monkeypatch, [failed("current_invoices", message, "first")])
    outcome = dbt_runner.run_dbt(["build"], Paths(tmp_path))
    assert len(calls) == 1 and not outcome.success


def test_only_runs_and_builds_are_retried(monkeypatch, tmp_path) -> None:
    calls = played(monkeypatch, [failed("current_invoices", MISSING_FILES, "first")])
    assert not dbt_runner.run_dbt(["test"], Paths(tmp_path)).success
    assert len(calls) == 1
