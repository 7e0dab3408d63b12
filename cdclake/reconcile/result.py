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

# Modes of the checks a run makes besides the four strategies (run.MODES): the open
# differences of earlier runs, re-checked by key first; those of a collection the run did
# not check, listed again as they were.
RECHECK = "recheck"
CARRIED = "carried"

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
    # Why a difference is confirmed when that is not plain from its kind: one that stayed
    # in flight past the limit names the landed file that never applied.
    note: str | None = None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Mismatch:
        fields = tuple(FieldDifference(**f) for f in item.get("fields", ()))
        return cls(item["collection"], item["key"], item["kind"], bool(item.get("in_flight")), fields, item.get("note"))


@dataclass(frozen=True)
class OpenDifference:
    """A difference not yet resolved: kept from run to run and re-checked by key first in
    every run until both sides agree on the document (cdclake/reconcile/recheck.py)."""

    mismatch: Mismatch
    first_seen: str | None  # start of the run that found it (None: carried from an older state file)
    last_checked: str | None
    rechecks: int = 0  # runs that re-checked it and still found it open

    @property
    def collection(self) -> str:
        return self.mismatch.collection

    @property
    def key(self) -> str:
        return self.mismatch.key

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.mismatch),
            "first_seen": self.first_seen,
            "last_checked": self.last_checked,
            "rechecks": self.rechecks,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> OpenDifference:
        return cls(Mismatch.from_json(item), item.get("first_seen"), item.get("last_checked"), item.get("rechecks", 0))


@dataclass
class ModeResult:
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
    checks: list[ModeResult] = field(default_factory=list)
    finished_at: dt.datetime | None = None
    # Per collection, the finish time of the newest apply a ``changed`` check has covered.
    changed_through: dict[str, str | None] = field(default_factory=dict)
    # Every difference still open after this run (confirmed or in flight, once per
    # collection and key, those of collections it did not check included): the next run
    # re-checks them first.
    open_differences: list[OpenDifference] = field(default_factory=list)

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
            "open_differences": [d.to_json() for d in self.open_differences],
        }
