"""What the lake says about a run, as values: the report's rules (model.py) read these
without Spark; lake_facts.py reads them from the lake."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..maintenance import TableHealth
from .anomalies import Freshness


@dataclass(frozen=True)
class DbtTest:
    name: str
    model: str
    status: str  # pass, fail, warn, error, skipped
    failures: int | None
    message: str | None
    recorded_at: str


@dataclass(frozen=True)
class QuarantinedFile:
    """A landing file that is in ``dms_quarantine``, whole or some of its rows: input that
    never reached the tables. Nothing resolves a quarantine yet, so it is counted for as
    long as its rows stay in ``dms_quarantine``."""

    path: str
    whole_file: bool  # the file could not be read at all: how many rows it held is unknown
    rows: int  # rows of the file quarantined one by one
    reasons: tuple[str, ...]
    first_quarantined_at: str

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2] or self.path


@dataclass
class LakeFacts:
    """Per collection: events applied and rows and whole files quarantined after the
    previous report, the lag, and everything held in quarantine (every run, not only
    since the previous report); ``through`` is the newest apply counted (where the next
    report starts); ``collections``, the catalog's, are the ones the report judges."""

    through: str | None
    collections: list[str] = field(default_factory=list)
    events_applied: dict[str, int] = field(default_factory=dict)
    events_quarantined: dict[str, int] = field(default_factory=dict)
    lag_seconds: dict[str, float | None] = field(default_factory=dict)
    dbt_tests: list[DbtTest] = field(default_factory=list)
    files_quarantined: dict[str, int] = field(default_factory=dict)
    # Landed rows no apply accounted for (neither applied, superseded nor quarantined), every run.
    unaccounted: dict[str, int] = field(default_factory=dict)
    quarantine: dict[str, list[QuarantinedFile]] = field(default_factory=dict)
    # The catalog's models (current-state tables, marts) by collection: whose dbt tests are whose.
    table_collections: dict[str, str] = field(default_factory=dict)
    # The same models' dbt unique_ids: their pages in the dbt docs site.
    model_ids: dict[str, str] = field(default_factory=dict)
    # Every table of the schema: files, snapshots, size, upkeep (cdclake/maintenance.py).
    tables: list[TableHealth] = field(default_factory=list)
    # When a change was last applied (any apply, not only since the previous report; ISO),
    # and how long its dbt source says the collection may go without one.
    last_change_applied: dict[str, str | None] = field(default_factory=dict)
    freshness: dict[str, Freshness] = field(default_factory=dict)
