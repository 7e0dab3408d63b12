"""What a Great Expectations run found, as plain values with a JSON form.

Failing examples carry the table's key and the offending values, sensitive ones already
redacted: everything here may be shown to people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # the GX expectation type, e.g. expect_column_values_to_be_unique
    description: str  # what it means, in the suite author's words
    columns: tuple[str, ...]
    success: bool
    rows_checked: int | None = None
    rows_failed: int | None = None
    observed: str | None = None  # for table-level expectations (the row count)
    examples: tuple[dict[str, str | None], ...] = ()
    error: str | None = None  # GX could not evaluate it (a missing column, a type clash)


@dataclass
class SuiteOutcome:
    table: str
    collection: str
    key: str
    rows: int | None
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


@dataclass
class QualityResult:
    run_id: str
    engine: str  # spark or pandas
    started_at: str
    finished_at: str | None = None
    suites: list[SuiteOutcome] = field(default_factory=list)
    data_docs: str | None = None  # where GX's Data Docs for this run are

    @property
    def status(self) -> str:
        return PASSED if all(s.success for s in self.suites) else FAILED

    def rows_by_table(self) -> dict[str, int]:
        return {s.table: s.rows for s in self.suites if s.rows is not None}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        for suite, outcome in zip(data["suites"], self.suites, strict=True):
            suite["success"] = outcome.success
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QualityResult:
        suites = [
            SuiteOutcome(
                table=s["table"],
                collection=s["collection"],
                key=s["key"],
                rows=s["rows"],
                expectations=[
                    ExpectationOutcome(**{**e, "columns": tuple(e["columns"]), "examples": tuple(e["examples"])})
                    for e in s["expectations"]
                ],
            )
            for s in data["suites"]
        ]
        fields = {k: data[k] for k in ("run_id", "engine", "started_at", "finished_at", "data_docs")}
        return cls(**fields, suites=suites)
