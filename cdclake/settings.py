"""Where things live: every file the local pipeline writes sits under one data directory,
and the dbt project (with its suites) is a folder the settings name.

Set ``CDCLAKE_DATA_DIR`` to move the data (default: ``data/`` in the dbt project, or in
the working directory when it is in no project). The dbt project is
``CDCLAKE_DBT_PROJECT_DIR``, else the working directory or the nearest folder above it
holding ``dbt_project.yml``, as dbt finds it. Nothing is found next to the package's own
source, so the installed package works from anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .names import checked_schema


class ProjectNotFound(FileNotFoundError):
    """No dbt project where the settings and the working directory point."""


def _project_above(folder: Path) -> Path | None:
    return next((f for f in (folder, *folder.parents) if (f / "dbt_project.yml").is_file()), None)


def dbt_project_dir() -> Path:
    """The dbt project: ``CDCLAKE_DBT_PROJECT_DIR`` (a checkout, a copy, the folder an
    Airflow bundle unpacks), else the working directory or the nearest folder above it
    with a ``dbt_project.yml``."""
    configured = os.environ.get("CDCLAKE_DBT_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    found = _project_above(Path.cwd().resolve())
    if found is None:
        raise ProjectNotFound(
            f"no dbt project (dbt_project.yml) in {Path.cwd()} or above: run from the project's folder "
            "or set CDCLAKE_DBT_PROJECT_DIR to it"
        )
    return found


def expectations_dir() -> Path:
    """The Great Expectations suites: ``CDCLAKE_EXPECTATIONS_DIR`` (the EMR job ships the
    folder), else the dbt project's ``expectations/``."""
    return Path(os.environ.get("CDCLAKE_EXPECTATIONS_DIR") or dbt_project_dir() / "expectations").resolve()


def target_schema(built_into: str | None = None) -> str:
    """The schema (Iceberg namespace) the tables are in: ``CDCLAKE_SCHEMA``, else the one
    dbt's manifest says its target builds into (``built_into``: a developer's own schema on
    the ``dev`` target), else ``ledger``."""
    return checked_schema(os.environ.get("CDCLAKE_SCHEMA") or built_into or "ledger")


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    landing_override: str | None = None
    scratch_override: str | None = None

    @classmethod
    def from_env(cls) -> Paths:
        home = _project_above(Path.cwd().resolve()) or Path.cwd()
        data_dir = Path(os.environ.get("CDCLAKE_DATA_DIR") or home / "data").resolve()
        return cls(
            data_dir,
            os.environ.get("CDCLAKE_LANDING_ROOT") or None,
            os.environ.get("CDCLAKE_SCRATCH_ROOT") or None,
        )

    @property
    def landing_uri(self) -> str:
        """What dbt reads: ``CDCLAKE_LANDING_ROOT`` (e.g. ``s3://bucket/dms``) or the local folder."""
        return self.landing_override or str(self.landing)

    @property
    def landing(self) -> Path:
        """The DMS target folder (an S3 prefix in production)."""
        return self.data_dir / "landing"

    @property
    def scratch_uri(self) -> str:
        """Where an apply stages its checked rows for the merge: ``CDCLAKE_SCRATCH_ROOT``
        (an S3 prefix next to the warehouse in production) or a folder of the data dir."""
        return self.scratch_override or str(self.spark_dir / "cdc-scratch")

    @property
    def outbox(self) -> Path:
        """Files the simulated DMS wrote but has not delivered yet."""
        return self.data_dir / "source" / "outbox"

    @property
    def simulator_state(self) -> Path:
        return self.data_dir / "source" / "state"

    @property
    def snapshot(self) -> Path:
        """The source's state as a mongodump directory."""
        return self.data_dir / "source" / "mongodump"

    @property
    def warehouse(self) -> Path:
        """The Iceberg warehouse (Hadoop catalog)."""
        return self.data_dir / "warehouse"

    @property
    def spark_dir(self) -> Path:
        return self.data_dir / "spark"

    @property
    def reconcile_dir(self) -> Path:
        """Reconciliation results (``latest.json``, ``runs/``, ``open_differences.json``)."""
        return self.data_dir / "reconcile"

    @property
    def quality_dir(self) -> Path:
        """Great Expectations: the data context (``gx/``, with Data Docs) and the results."""
        return self.data_dir / "quality"

    @property
    def reports_dir(self) -> Path:
        """The data-quality reports: ``latest/``, ``runs/<run>/`` and ``index.html``."""
        return self.data_dir / "reports"

    @property
    def docs_dir(self) -> Path:
        """The dbt docs site (``cdclake docs``), beside the reports that link to it."""
        return self.data_dir / "docs"

    @property
    def dbt_dir(self) -> Path:
        return self.data_dir / "dbt"
