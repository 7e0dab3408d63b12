"""The dbt tests the project declares, read from its files (no dbt, no Spark): the generic
tests in ``models/**/_*.yml`` (YAML anchors and merge keys resolved, as dbt resolves them)
and the singular tests in ``tests/dbt/*.sql``. test_pipeline.py checks that a build runs
exactly these; test_claims.py that docs/tests.md counts them right."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from repo import REPO

SINGULAR_DIR = REPO / "tests" / "dbt"


@dataclass(frozen=True)
class DeclaredTest:
    kind: str  # "generic" or "singular"
    name: str  # the generic test (unique, relationships, …) or the singular test's file stem
    model: str | None = None
    column: str | None = None
    severity: str = "error"


def _test_name(entry: str | dict) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def generic_tests() -> list[DeclaredTest]:
    declared = []
    for path in sorted((REPO / "models").rglob("_*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            for entry in model.get("data_tests", []):
                declared.append(DeclaredTest("generic", _test_name(entry), model["name"]))
            for column in model.get("columns", []):
                for entry in column.get("data_tests", []):
                    name = _test_name(entry)
                    severity = "warn" if name == "no_uncast_values" else "error"  # set in its macro
                    declared.append(DeclaredTest("generic", name, model["name"], column["name"], severity))
    return declared


def singular_tests() -> list[DeclaredTest]:
    return [
        DeclaredTest("singular", path.stem, severity="warn" if "severity='warn'" in path.read_text() else "error")
        for path in sorted(SINGULAR_DIR.glob("*.sql"))
    ]


def declared_tests() -> list[DeclaredTest]:
    return generic_tests() + singular_tests()
