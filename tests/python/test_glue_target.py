"""`dbt build --target glue` through dbt-glue itself, on the Glue stand-in: the same
current-state tables as the local target, document for document; a second batch applies
only its new files; a rerun with nothing new commits nothing (issue 13, item 2).

One rehearsal builds both targets batch by batch and records what it saw; the tests read
that record, so the slow part runs once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from glue_standin import GLUE_CATALOG, GlueStandIn

from cdclake.demo.delivery import Delivery

from conftest import EVENTS_PER_BATCH, Dataset, new_dataset

pytestmark = pytest.mark.slow

DATABASE = "glue_rehearsal"
COLLECTIONS = ("clients", "engagements", "invoices", "journal_entries")
MARTS = ("clients", "engagements", "invoices", "invoice_line_items", "journal_entries", "journal_entry_lines")
BOOKKEEPING = ("dms_applied_files", "dms_apply_log", "dms_quarantine")
CURRENT_COLUMNS = "_id, dms_key_text, is_deleted, document, op, commit_ts"


@dataclass
class Build:
    """One target's build of one batch, as the rehearsal saw it."""

    outcome: object
    current: dict[str, list[tuple]] = field(default_factory=dict)
    marts: dict[str, list[tuple]] = field(default_factory=dict)


@dataclass
class Rehearsal:
    local: list[Build] = field(default_factory=list)
    glue: list[Build] = field(default_factory=list)
    files_per_batch: list[set[str]] = field(default_factory=list)
    recorded_per_glue_build: list[list[str]] = field(default_factory=list)
    glue_snapshots_before_rerun: dict[str, int] = field(default_factory=dict)
    glue_snapshots_after_rerun: dict[str, int] = field(default_factory=dict)
    rerun: object = None


def rows(spark, query: str) -> list[tuple]:
    return sorted(tuple(row) for row in spark.sql(query).collect())


def read_build(spark, outcome, catalog: str, schema: str) -> Build:
    build = Build(outcome)
    for collection in COLLECTIONS:
        build.current[collection] = rows(
            spark, f"select {CURRENT_COLUMNS} from {catalog}.{schema}.current_{collection}"
        )
    for mart in MARTS:
        build.marts[mart] = rows(spark, f"select * from {catalog}.{schema}.{mart}")
    return build


def latest_snapshots(spark) -> dict[str, int | None]:
    """The newest snapshot of each table the apply writes (None: never written)."""
    newest = {}
    for table in [f"current_{c}" for c in COLLECTIONS] + list(BOOKKEEPING):
        query = f"select snapshot_id from {GLUE_CATALOG}.{DATABASE}.{table}.snapshots order by committed_at desc"
        newest[table] = next(iter(spark.sql(query).take(1)), [None])[0]
    return newest


@pytest.fixture(scope="module")
def rehearsal(spark, workspace: Path, glue_stand_in: GlueStandIn) -> Iterator[Rehearsal]:
    from cdclake.dbt_runner import run_dbt

    dataset: Dataset = new_dataset(workspace, DATABASE)
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    seen = Rehearsal()
    stand_in = glue_stand_in
    with pytest.MonkeyPatch.context() as env:
        for name, value in (stand_in.target_environment() | {"CDCLAKE_GLUE_DATABASE": DATABASE}).items():
            env.setenv(name, value)
        # The operator creates the database (infra/README.md): dbt-glue's create_schema would
        # also grant Lake Formation rights, which the session role does not have.
        stand_in.client().create_database(DatabaseInput={"Name": DATABASE})
        landed: set[str] = set()
        for batch in range(2):
            if batch:
                delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox), chaotic=False)
            now = {
                path.absolute().as_uri().replace("file:///", "file:/")
                for path in dataset.paths.landing.rglob("*.parquet")
            }
            seen.files_per_batch.append(now - landed)
            landed = now
            outcome = run_dbt(["build"], dataset.paths, schema=DATABASE)
            seen.local.append(read_build(spark, outcome, "lake", DATABASE))
            outcome = run_dbt(["build", "--target", "glue"], dataset.paths)
            seen.glue.append(read_build(stand_in.spark, outcome, GLUE_CATALOG, DATABASE))
            seen.recorded_per_glue_build.append(
                [
                    row[0]
                    for row in stand_in.spark.sql(
                        f"select file_path from {GLUE_CATALOG}.{DATABASE}.dms_applied_files"
                        f" where invocation_id = '{outcome.invocation_ids[-1]}'"
                    ).collect()
                ]
            )
        seen.glue_snapshots_before_rerun = latest_snapshots(stand_in.spark)
        seen.rerun = run_dbt(["build", "--target", "glue"], dataset.paths)
        seen.glue_snapshots_after_rerun = latest_snapshots(stand_in.spark)
    yield seen


def test_every_model_and_test_passes_on_glue(rehearsal: Rehearsal) -> None:
    for glue, local in zip(rehearsal.glue, rehearsal.local, strict=True):
        assert glue.outcome.success, glue.outcome.error
        assert glue.outcome.count("fail", "error", "warn", "skipped") == 0, glue.outcome.statuses
        same_nodes = {status: sorted(nodes) for status, nodes in local.outcome.statuses.items()}
        assert {status: sorted(nodes) for status, nodes in glue.outcome.statuses.items()} == same_nodes


@pytest.mark.parametrize("batch", [0, 1])
def test_glue_tables_equal_local_tables_document_for_document(rehearsal: Rehearsal, batch: int) -> None:
    glue, local = rehearsal.glue[batch], rehearsal.local[batch]
    assert all(local.current.values()), "a current-state table is empty: nothing compared"
    assert glue.current == local.current
    assert glue.marts == local.marts


def test_a_second_batch_applies_only_its_new_files(rehearsal: Rehearsal) -> None:
    first, second = rehearsal.recorded_per_glue_build
    assert sorted(first) == sorted(rehearsal.files_per_batch[0])
    assert rehearsal.files_per_batch[1], "the second batch landed nothing"
    assert sorted(second) == sorted(rehearsal.files_per_batch[1])


def test_a_rerun_with_nothing_new_commits_nothing(rehearsal: Rehearsal) -> None:
    assert rehearsal.rerun.success, rehearsal.rerun.error
    assert rehearsal.glue_snapshots_before_rerun["dms_applied_files"] is not None
    assert rehearsal.glue_snapshots_after_rerun == rehearsal.glue_snapshots_before_rerun
