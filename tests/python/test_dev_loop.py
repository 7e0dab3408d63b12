"""The analytics engineer's daily loop: a schema per developer, slim CI that builds only
what a change touches (deferring to production for the rest), and a docs site that
describes everything. Production here is the ``in_order`` dataset's build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cdclake.dbt_runner import run_dbt
from cdclake.settings import Paths

from repo import REPO, copy_project

DEV_SCHEMA = "ci_pull_request_7"


def production_manifest(dataset) -> dict:
    return json.loads((dataset.paths.dbt_dir / "target" / "manifest.json").read_text())


def descendants(manifest: dict, node_id: str) -> set[str]:
    found, todo = set(), [node_id]
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def snapshot_of(spark, table: str) -> int:
    return spark.sql(f"select snapshot_id from {table}.snapshots order by committed_at desc limit 1").first()[0]


@pytest.fixture(scope="module")
def slim(in_order, spark, tmp_path_factory: pytest.TempPathFactory):
    """A pull request that edits the invoices mart, built as slim CI builds it: only
    ``state:modified+``, into a developer schema, deferring to production's manifest."""
    root = tmp_path_factory.mktemp("slim")
    state = root / "production-state"
    state.mkdir()
    shutil.copy(in_order.paths.dbt_dir / "target" / "manifest.json", state / "manifest.json")
    project = copy_project(root / "project")
    mart = project / "models" / "marts" / "accounting" / "invoices.sql"
    mart.write_text(mart.read_text() + "-- reviewed in pull request 7\n")
    production_tables = {name: snapshot_of(spark, f"{in_order.schema}.{name}") for name in ("invoices", "clients")}
    # The same landing folder and scratch as production: only the project differs.
    paths = Paths(root / "data", in_order.paths.landing_uri, in_order.paths.scratch_uri)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDCLAKE_DBT_PROJECT_DIR", str(project))
        env.setenv("CDCLAKE_DEV_SCHEMA", DEV_SCHEMA)
        selection = ["--select", "state:modified+", "--state", str(state)]
        build = run_dbt(["build", "--target", "dev", *selection, "--defer"], paths)
    yield in_order, build, production_tables


def test_a_change_to_one_mart_builds_that_mart_and_its_tests_only(slim) -> None:
    in_order, build, _ = slim
    manifest = production_manifest(in_order)
    changed = "model.cdclake.invoices"
    expected = {manifest["nodes"][n]["name"] for n in {changed, *descendants(manifest, changed)}}
    built = {name for names in build.statuses.values() for name in names}
    assert build.success, build.error
    assert built == expected
    assert "invoices" in built and "clients" not in built and "current_invoices" not in built
    assert any(name.startswith("accepted_values_invoices_status") for name in built)
    assert "assert_invoice_total_equals_line_sum" in built


def test_the_rest_is_read_from_production_and_production_is_untouched(slim, spark) -> None:
    in_order, _, production_tables = slim
    assert spark.catalog.tableExists(f"{DEV_SCHEMA}.invoices")
    assert not spark.catalog.tableExists(f"{DEV_SCHEMA}.current_invoices")  # deferred to production
    rows = spark.sql(f"select count(*) from {DEV_SCHEMA}.invoices").first()[0]
    assert rows > 0 and rows == spark.sql(f"select count(*) from {in_order.schema}.invoices").first()[0]
    for name, snapshot in production_tables.items():
        assert snapshot_of(spark, f"{in_order.schema}.{name}") == snapshot, f"{name} was written"


def test_every_source_model_column_and_test_is_described(in_order) -> None:
    manifest = production_manifest(in_order)
    undescribed = []
    for node_id, node in [*manifest["nodes"].items(), *manifest["sources"].items()]:
        if node["resource_type"] not in ("model", "test", "source"):
            continue
        if not node["description"].strip():
            undescribed.append(node_id)
        undescribed += [f"{node_id}.{c}" for c, column in node.get("columns", {}).items() if not column["description"]]
    assert undescribed == []


def test_every_dms_source_declares_its_freshness(in_order) -> None:
    for source in production_manifest(in_order)["sources"].values():
        config = source["config"]
        assert config.get("loaded_at_query") and config.get("freshness", {}).get("warn_after", {}).get("count"), source[
            "unique_id"
        ]


def test_source_freshness_runs_on_the_landing_bookkeeping(in_order) -> None:
    outcome = run_dbt(["source", "freshness"], in_order.paths, schema=in_order.schema)
    assert outcome.success, outcome.error
    assert sorted(outcome.statuses.get("pass", [])) == sorted(
        s["name"] for s in production_manifest(in_order)["sources"].values()
    )


def test_the_ci_workflow_parses_every_target_and_builds_what_these_tests_prove() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "dbt-ci.yml").read_text())
    steps = {step.get("name"): step for step in workflow["jobs"]["slim"]["steps"]}
    targets = yaml.safe_load((REPO / "profiles" / "profiles.yml").read_text())["cdclake"]["outputs"]
    assert steps["Parse every target"]["run"].split("for target in ")[1].split(";")[0].split() == list(targets)
    slim_build = steps["Slim build of the change, in the pull request's schema"]["run"]
    assert all(part in slim_build for part in ("--target dev", "state:modified+", "--defer", "--state"))
    assert "cdclake checks" in steps["The change in a throwaway copy of production, then the checks"]["run"]
    assert steps["Report and JUnit"]["if"] == "always()"


def test_every_git_hook_runs_a_tool_of_the_lock() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}  # nothing fetched at commit time
    locked = {
        line.split("==")[0].lower().replace("_", "-") for line in (REPO / "requirements.lock").read_text().split()
    }
    for hook in hooks:
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/") and (REPO / tool).exists(), hook["id"]
    assert {"ruff", "sqlfluff", "pre-commit", "pre-commit-hooks"} <= locked


def test_the_git_hooks_stop_a_commit_with_a_lint_error_or_broken_yaml(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    shutil.copy(REPO / ".pre-commit-config.yaml", repo)
    shutil.copy(REPO / "pyproject.toml", repo)  # ruff's settings
    (repo / ".venv").symlink_to(REPO / ".venv")
    (repo / "models").mkdir()
    (repo / "models" / "_broken.yml").write_text("models:\n  - name: a\n    description: [unclosed\n")
    (repo / "module.py").write_text("total = undefined_name\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    environment = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    hooks = [str(REPO / ".venv" / "bin" / "pre-commit"), "run", "--all-files"]
    failed = subprocess.run(hooks, cwd=repo, env=environment, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "models/_broken.yml" in failed.stdout and "F821" in failed.stdout, failed.stdout
    (repo / "models" / "_broken.yml").write_text("models:\n  - name: a\n    description: fixed\n")
    (repo / "module.py").write_text('"""A module."""\n')
    subprocess.run([*git, "add", "-A"], check=True)
    passed = subprocess.run(hooks, cwd=repo, env=environment, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout


def test_make_docs_writes_one_page_that_describes_the_models_and_links_the_report(in_order, monkeypatch) -> None:
    from cdclake.cli import main

    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(in_order.paths.data_dir))
    monkeypatch.setenv("CDCLAKE_SCHEMA", in_order.schema)
    assert main(["docs"]) == 0
    site = (in_order.paths.docs_dir / "index.html").read_text()
    assert "model.cdclake.invoices" in site and "source.cdclake.ledger.invoices" in site
    assert "Every client has a tax id." in site  # a test's description
    assert "../reports/latest/report.html" in site  # the overview links the report beside it
