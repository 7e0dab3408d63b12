"""The suites under ``expectations/``: one GX suite per table, reviewed like code.

Each file is a Great Expectations 1.x suite (``name``, ``expectations``) whose ``meta``
says which table it checks, the table's key (shown next to each failing example), the
MongoDB collection it comes from, and how far the row count may move between runs.

Suites hold the rules GX owns: plausibility of values and volume against history. The
rules of a model's contract belong to its dbt tests (docs/tests.md "Who owns which
rule"); a suite that writes one again is refused, so one fault never makes two red lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import expectations_dir

# Expectation types whose rule a dbt test owns, and the dbt test to write instead.
DBT_OWNED_EXPECTATIONS = {
    "expect_column_values_to_be_unique": "a `unique` test",
    "expect_compound_columns_to_be_unique": "a `unique` test on the combined key",
    "expect_column_values_to_not_be_null": "a `not_null` test (with `config: where:` when only some rows need it)",
    "expect_column_values_to_be_in_set": "an `accepted_values` test",
    "expect_column_pair_values_to_be_equal": "a singular test in tests/dbt/ over the mart's computed sums",
}


class SuiteFileError(ValueError):
    """A suite file that cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    table: str
    key: str
    collection: str
    max_shrink: float
    max_growth: float
    definition: dict[str, Any]

    def expectation_suite(self, name: str | None = None, keep: Callable[[dict], bool] = lambda _: True):
        """A fresh GX suite object (GX binds a suite to one context once added), holding the
        expectations ``keep`` accepts."""
        import great_expectations as gx

        definition = json.loads(json.dumps(self.definition))
        definition["expectations"] = [e for e in definition["expectations"] if keep(e)]
        return gx.ExpectationSuite(**{**definition, "name": name or self.table})

    def row_count_parameters(self, previous_rows: int | None) -> dict[str, int | None]:
        """Bounds for ``expect_table_row_count_to_be_between``: from the last run's row count
        and this suite's tolerance; with no earlier run, only "not empty"."""
        if previous_rows is None:
            return {"min_rows": 1, "max_rows": None}
        return {
            "min_rows": max(1, math.floor(previous_rows * (1 - self.max_shrink))),
            "max_rows": math.ceil(previous_rows * (1 + self.max_growth)) or None,
        }


def load_suites(directory: Path | None = None) -> list[SuiteFile]:
    """Every suite file in ``directory`` (default: ``settings.expectations_dir()``), by table name."""
    directory = directory or expectations_dir()
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SuiteFileError(f"no Great Expectations suites (*.json) in {directory}")
    return [_read(path) for path in files]


def check_against_catalog(suites: list[SuiteFile], table_collections: Mapping[str, str]) -> None:
    """Refuse a suite whose table or collection the dbt project does not have (its
    catalog's ``table_collections``): it would check nothing, or check under a wrong name."""
    for suite in suites:
        owner = table_collections.get(suite.table)
        if owner is None:
            raise SuiteFileError(
                f"{suite.path}: table '{suite.table}' is not a table of one collection in the dbt project "
                f"(its collections' tables: {', '.join(sorted(table_collections)) or 'none'})"
            )
        if owner != suite.collection:
            raise SuiteFileError(
                f"{suite.path}: meta.collection is '{suite.collection}', but the dbt project builds "
                f"'{suite.table}' from the collection '{owner}'"
            )


def _refuse_rules_dbt_owns(path: Path, definition: dict[str, Any]) -> None:
    for number, expectation in enumerate(definition.get("expectations", []), start=1):
        instead = DBT_OWNED_EXPECTATIONS.get(expectation.get("type"))
        if instead:
            kwargs = expectation.get("kwargs", {})
            columns = ", ".join(
                str(kwargs[k]) for k in ("column", "column_list", "column_A", "column_B") if k in kwargs
            )
            raise SuiteFileError(
                f"{path}: expectation {number} ({expectation['type']} on {columns}) is a rule dbt owns: "
                f"write it as {instead} in the model's YAML and remove it here (docs/tests.md, "
                '"Who owns which rule")'
            )


def _read(path: Path) -> SuiteFile:
    try:
        definition = json.loads(path.read_text())
        meta = definition["meta"]
        tolerance = meta.get("row_count_tolerance", {})
        suite = SuiteFile(
            path=path,
            table=meta["table"],
            key=meta["key"],
            collection=meta["collection"],
            max_shrink=float(tolerance.get("max_shrink", 0.1)),
            max_growth=float(tolerance.get("max_growth", 1.0)),
            definition=definition,
        )
    except json.JSONDecodeError as error:
        raise SuiteFileError(f"{path}: not valid JSON ({error})") from error
    except (KeyError, TypeError, ValueError) as error:
        raise SuiteFileError(
            f"{path}: needs 'meta' with 'table', 'key' and 'collection' (and numeric "
            f"'row_count_tolerance' values); missing or wrong: {error}"
        ) from error
    if definition.get("name") != suite.table:
        raise SuiteFileError(f"{path}: the suite's name must be its table's name, '{suite.table}'")
    _refuse_rules_dbt_owns(path, definition)
    try:
        suite.expectation_suite()
    except Exception as error:  # GX's own validation of types and arguments
        raise SuiteFileError(f"{path}: Great Expectations cannot read this suite: {error}") from error
    return suite
