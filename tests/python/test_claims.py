"""docs/claims.md names, for every claim of the README and docs/, the test or benchmark that
backs it: each name must exist. Also the figures of docs/tests.md and the README, held to
the project's files. Fast: reads files, no Spark, no dbt."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import pytest

from dbt_project_tests import declared_tests
from repo import REPO

CLAIMS = REPO / "docs" / "claims.md"
TEST_REF = re.compile(r"`(tests/python/[\w/]+\.py)::(\w+)`")
BENCH_REF = re.compile(r"`(bench/[\w/.-]+)`")
DOC_REF = re.compile(r"(README\.md|docs/[\w/.-]+\.md)")
NO_TEST = ("**gap**", "not verifiable here")


def claim_rows() -> list[tuple[str, str, str, str]]:
    """(number, claim, source, backed by) for every row of the claims tables."""
    rows = []
    for line in CLAIMS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and cells[0].isdigit():
            assert len(cells) == 4, f"claims.md: a row needs 4 cells: {line}"
            rows.append(tuple(cells))
    return rows


@cache
def functions(path: str) -> frozenset[str]:
    """Module-level functions of a test file (what pytest collects as tests)."""
    tree = ast.parse((REPO / path).read_text())
    return frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))


def test_claims_are_numbered_once_and_in_order() -> None:
    numbers = [int(row[0]) for row in claim_rows()]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("row", claim_rows(), ids=lambda row: f"claim-{row[0]}")
def test_each_claim_names_tests_and_benchmarks_that_exist(row: tuple[str, str, str, str]) -> None:
    number, _, source, backed_by = row
    tests, benches = TEST_REF.findall(backed_by), BENCH_REF.findall(backed_by)
    assert tests or benches or backed_by.startswith(NO_TEST), f"claim {number} names no test: {backed_by}"
    for path, name in tests:
        assert (REPO / path).is_file(), f"claim {number}: no file {path}"
        assert name in functions(path), f"claim {number}: {path} has no function {name}"
    for path in benches:
        assert (REPO / path).is_file(), f"claim {number}: no benchmark file {path}"
    if any(path.endswith(".py") for path in benches):  # a benchmark comes with its results
        assert any(path.startswith("bench/results/") for path in benches), f"claim {number}: results missing"
    documents = DOC_REF.findall(source)
    assert documents and all((REPO / d).is_file() for d in documents), f"claim {number}: source {source}"


def test_every_document_has_its_claims_listed() -> None:
    listed = {d for row in claim_rows() for d in DOC_REF.findall(row[2])}
    documents = {"README.md"} | {str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")}
    assert documents - {"docs/claims.md"} <= listed, "documents without a row in docs/claims.md"


def test_the_checker_finds_a_missing_test() -> None:
    # The check above, on a row naming a function that does not exist, and one naming nothing.
    row = ("0", "c", "README.md", "`tests/python/test_claims.py::test_no_such_thing`")
    with pytest.raises(AssertionError, match="has no function test_no_such_thing"):
        test_each_claim_names_tests_and_benchmarks_that_exist(row)
    with pytest.raises(AssertionError, match="names no test"):
        test_each_claim_names_tests_and_benchmarks_that_exist(("0", "c", "README.md", "trust me"))


def expectations() -> int:
    return sum(len(json.loads(p.read_text())["expectations"]) for p in (REPO / "expectations").glob("*.json"))


def test_the_figures_of_the_docs_are_the_projects() -> None:
    tests, suites = len(declared_tests()), expectations()
    doc = (REPO / "docs" / "tests.md").read_text()
    assert f"**{tests} dbt tests**" in doc
    assert f"**{suites} expectations**" in doc
    assert f"test_each_breakage_fails_exactly_its_expectation`, {suites} cases" in doc
    assert f"`dbt build`: 12 models, {tests} tests" in (REPO / "README.md").read_text()
    models = [p for p in (REPO / "models").rglob("*.sql") if "staging" not in p.parts]  # staging: ephemeral
    assert len(models) == 12


def test_no_claim_names_a_test_file_that_pytest_would_not_collect() -> None:
    for _, _, _, backed_by in claim_rows():
        for path, name in TEST_REF.findall(backed_by):
            assert Path(path).name.startswith("test_") and name.startswith("test_"), (path, name)
