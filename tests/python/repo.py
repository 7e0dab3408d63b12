"""The checkout the tests run from: tests read the project's own files (its dbt project,
docs, suites) from here; the product finds them through its settings."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What a copy of the dbt project needs: what an analytics engineer edits and dbt reads.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "tests/dbt", "profiles", "expectations")


def copy_project(destination: Path) -> Path:
    """A copy of the dbt project (and its suites) at ``destination``, to edit in a test."""
    import shutil

    for part in PROJECT_PARTS:
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy2
        (destination / part).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / part, destination / part)
    return destination
