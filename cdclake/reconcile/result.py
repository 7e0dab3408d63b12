"""What a reconciliation found, as values with a stable JSON form (docs/reconciliation.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1

MISSING_IN_TABLE = "missing_in_table"
EXTRA_IN_TABLE = "extra_in_table"
DIFFERS = "differs"
DUPLICATE_IN_TABLE = "duplicate_in_table"  # more than one live row for a key: a broken merge
COUNT_DIFFERS = "count_differs"

RECONCILED = "reconciled"
IN_FLIGHT = "in_flight"
DISCREPANCIES = "discrepancies"


@dataclass(frozen=True)
class FieldDifference:
    """One field that differs; values are relaxed Extended JSON, ``None`` when absent."""

    path: str
    source: str | None
    table: str | None


@dataclass(frozen=True)
class Mismatch:
    collection: str
    key: str
    kind: str  # MISSING_IN_TABLE, EXTRA_IN_TABLE, DIFFERS or DUPLICATE_IN_TABLE
    in_flight: bool = False
    fields: tuple[FieldDifference, ...] = ()


@dataclass
class CheckResult:
    """One mode on one collection."""

    mode: str
    collection: str
    compared: int = 0  # documents compared one by one (counts: 0)
    source_count: int | None = None
    table_count: int | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    count_in_flight: bool = False  # counts: the difference is explained by pending changes

    @property
    def count_differs(self) -> bool:
        return self.mode == "counts" and self.source_count != self.table_count

    @property
    def confirmed(self) -> list[Mismatch]:
        return [m for m in self.mismatches if not m.in_flight]

    @property
    def status(self) -> str:
        if self.confirmed or (self.count_differs and not self.count_in_flight):
            return DISCREPANCIES
        if self.mismatches or self.count_differs:
            return IN_FLIGHT
        return RECONCILED

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        data["mismatches"] = [asdict(m) for m in self.mismatches]
        return data


@dataclass
class RunResult:
    started_at: dt.datetime
    source: str
    table_schema: str
    checks: list[CheckResult] = field(default_factory=list)
    finished_at: dt.datetime | None = None
    # Per collection, the finish time of the newest apply a ``changed`` check has covered.
    changed_through: dict[str, str | None] = field(default_factory=dict)
    # In-flight mismatches of collections this run did not check: kept for a later re-check.
    carried_in_flight: list[Mismatch] = field(default_factory=list)

    def in_flight(self) -> list[Mismatch]:
        """Every mismatch waiting for a re-check, once per (collection, key)."""
        found = [m for check in self.checks for m in check.mismatches if m.in_flight] + self.carried_in_flight
        return list({(m.collection, m.key): m for m in found}.values())

    @property
    def status(self) -> str:
        statuses = {check.status for check in self.checks}
        for status in (DISCREPANCIES, IN_FLIGHT):
            if status in statuses:
                return status
        return RECONCILED

    @property
    def exit_code(self) -> int:
        return 1 if self.status == DISCREPANCIES else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "source": self.source,
            "table_schema": self.table_schema,
            "checks": [check.to_json() for check in self.checks],
            "changed_through": self.changed_through,
        }
