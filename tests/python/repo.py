"""The checkout the tests run from: tests read the project's own files (its dbt project,
docs, suites) from here; the product finds them through its settings."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
