"""Runs the dbt project in this process, against the local Spark session or a cloud target."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import yaml

from .iceberg import is_commit_conflict
from .names import checked_schema
from .settings import Paths, dbt_project_dir


@dataclass
class DbtOutcome:
    """What a dbt invocation did, in the terms the run summary needs."""

    success: bool
    invocation_ids: list[str]  # one, or two when models that lost a commit race ran again
    statuses: dict[str, list[str]] = field(default_factory=dict)  # status -> node names
    error: str | None = None  # why dbt itself stopped, or the first node's error
    node_errors: list[str] = field(default_factory=list)  # "<node>: <message>" of each failed node

    def count(self, *statuses: str) -> int:
        return sum(len(self.statuses.get(status, [])) for status in statuses)

    @property
    def lost_a_commit_race(self) -> bool:
        """A model failed because another writer (table maintenance) committed to its table
        first: running it again is safe (see ``is_commit_conflict``)."""
        return not self.success and any(is_commit_conflict(error) for error in self.node_errors)

    def then(self, retried: DbtOutcome) -> DbtOutcome:
        """This outcome with the nodes ``dbt retry`` ran again replaced by how they did then."""
        rerun = {node for nodes in retried.statuses.values() for node in nodes}
        statuses = {status: [node for node in nodes if node not in rerun] for status, nodes in self.statuses.items()}
        for status, nodes in retried.statuses.items():
            statuses.setdefault(status, []).extend(nodes)
        statuses = {status: nodes for status, nodes in statuses.items() if nodes}
        return DbtOutcome(
            retried.success, self.invocation_ids + retried.invocation_ids, statuses, retried.error, retried.node_errors
        )


def dbt_environment(paths: Paths) -> dict[str, str]:
    """Environment for dbt: everything it writes goes under the data directory."""
    return {
        "DBT_PROFILES_DIR": str(dbt_project_dir() / "profiles"),
        "DBT_TARGET_PATH": str(paths.dbt_dir / "target"),
        "DBT_LOG_PATH": str(paths.dbt_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "CDCLAKE_LANDING_ROOT": paths.landing_uri,
        "CDCLAKE_SCRATCH_ROOT": paths.scratch_uri,
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for one dbt invocation, then put the old ones back."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _runs_in_this_process(args: list[str]) -> bool:
    """Whether the target dbt will use is a Spark session in this process (``method:
    session`` in profiles.yml: ``local``, ``dev``), which must be started before dbt."""
    target = os.environ.get("CDCLAKE_TARGET", "local")
    for index, arg in enumerate(args):
        if arg in ("--target", "-t") and index + 1 < len(args):
            target = args[index + 1]
        elif arg.startswith("--target="):
            target = arg.split("=", 1)[1]
    profiles = yaml.safe_load((dbt_project_dir() / "profiles" / "profiles.yml").read_text())
    output = profiles["cdclake"]["outputs"].get(target, {})
    return output.get("type") == "spark" and output.get("method") == "session"


def run_dbt(args: list[str], paths: Paths | None = None, schema: str | None = None) -> DbtOutcome:
    """Invoke ``dbt <args>`` on this project; on the local target, start Spark first.

    ``schema`` overrides the target schema (``CDCLAKE_SCHEMA``), so several datasets can
    live side by side in one warehouse.
    """
    paths = paths or Paths.from_env()
    environment = dbt_environment(paths) | ({"CDCLAKE_SCHEMA": checked_schema(schema)} if schema else {})
    if _runs_in_this_process(args):
        from .spark import get_or_create_session

        get_or_create_session(paths)
    with _environment(environment):
        outcome = _invoke(args)
        if outcome.lost_a_commit_race and args[:1] in (["run"], ["build"]):
            print("A model lost a commit to another writer (table maintenance?): running what failed once more")
            outcome = outcome.then(_invoke(["retry"]))
    return outcome


def _invoke(args: list[str]) -> DbtOutcome:
    from dbt.cli.main import dbtRunner
    from dbt_common.invocation import get_invocation_id

    result = dbtRunner().invoke([*args, "--project-dir", str(dbt_project_dir())])
    statuses: dict[str, list[str]] = {}
    node_errors = []
    for node_result in getattr(result.result, "results", None) or []:
        node = getattr(node_result, "node", None)  # run-operation's results name no node
        name = node.name if node is not None else "run-operation"
        if node is not None and node.resource_type != "operation":  # a hook is no model or test
            statuses.setdefault(str(node_result.status), []).append(name)
        if str(node_result.status) == "error" and node_result.message:
            node_errors.append(f"{name}: {node_result.message}")
    error = str(result.exception) if result.exception else (node_errors[0] if node_errors else None)
    return DbtOutcome(result.success, [get_invocation_id()], statuses, error, node_errors)
