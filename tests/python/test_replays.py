"""Replays and reordering: the final state is the in-order run's, whatever the delivery."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdclake.demo.delivery import Delivery

from conftest import BATCHES, COLLECTION_PARAMS, EVENTS_PER_BATCH, Dataset, new_dataset

pytestmark = pytest.mark.slow

COMPACT_AT = 2


@pytest.fixture(scope="module")
def replayed(workspace: Path, spark) -> Dataset:
    """Every batch landed, then the same batch landed twice more, with runs in between;
    the batches themselves delivered newest first. Each apply compacts as soon as two
    small files have piled up (macros/cdc/compaction.sql), so that the exact final state
    and the bookkeeping below hold through compactions between the runs."""
    dataset = new_dataset(workspace, "replayed")
    outbox = dataset.paths.outbox
    batches = [dataset.simulator.cdc_batch(EVENTS_PER_BATCH, outbox) for _ in range(BATCHES)]
    delivery = Delivery(outbox, dataset.paths.landing)
    apply = ("run", "--select", "current_state", "--vars", json.dumps({"cdc_compact_small_files_at": COMPACT_AT}))
    dataset.dbt(*apply)
    for batch in reversed(batches):
        delivery.land(batch)
        dataset.dbt(*apply)
    for _ in range(2):  # replayed: the last batch twice more
        delivery.land(batches[-1])
        dataset.dbt(*apply)
    return dataset


@pytest.fixture(scope="module")
def resplit(workspace: Path, spark) -> Dataset:
    """A file delivered once whole, then again split in two files with other names."""
    dataset = new_dataset(workspace, "resplit")
    outbox = dataset.paths.outbox
    files = [f for _ in range(BATCHES) for f in dataset.simulator.cdc_batch(EVENTS_PER_BATCH, outbox)]
    Delivery(outbox, dataset.paths.landing).land(files)
    dataset.dbt("run", "--select", "current_state")
    biggest = max(files, key=lambda f: f.rows)
    table = pq.read_table(outbox / biggest.relative_path)
    half = table.num_rows // 2
    for part, rows in enumerate((table.slice(0, half), table.slice(half))):
        # Redelivered later: DMS names files by time, so the parts sort after the original.
        name = biggest.relative_path.name.replace(".parquet", f"{part + 1}.parquet")
        target = dataset.paths.landing / biggest.relative_path.parent / ("9" + name)
        pq.write_table(rows, target)
    dataset.dbt("run", "--select", "current_state")
    return dataset


@COLLECTION_PARAMS
def test_replayed_three_times_out_of_order(replayed: Dataset, spark, collection: str) -> None:
    assert replayed.current_documents(spark, collection) == replayed.source_documents(collection)


def test_replays_were_read_again_and_changed_nothing(replayed: Dataset, spark) -> None:
    times = spark.sql(
        f"select file_path, count(*) as times from {replayed.schema}.dms_applied_files "
        "where file_path not like '%LOAD%' group by file_path"
    ).collect()
    assert {row["times"] for row in times} == {1, 3}


@COLLECTION_PARAMS
def test_small_files_were_compacted_between_applies(replayed: Dataset, spark, collection: str) -> None:
    """Each table, and the source's partition of the applied-files record, was bin-packed
    by the applies themselves; no table is left with more small files than a compaction
    starts at, plus what one apply adds (a task's file per shuffle partition at most)."""
    table = f"{replayed.schema}.current_{collection}"
    compactions = spark.sql(f"select count(*) from {table}.snapshots where operation = 'replace'").first()[0]
    assert compactions > 0
    assert spark.sql(f"select count(*) from {table}.data_files").first()[0] < COMPACT_AT + 8
    source = f"source.cdclake.ledger.{collection}"
    recorded = spark.sql(
        f"select count(*) from {replayed.schema}.dms_applied_files.data_files where partition.source_name = '{source}'"
    ).first()[0]
    assert recorded < COMPACT_AT + 1 + 1


@COLLECTION_PARAMS
def test_file_split_differently_on_redelivery(resplit: Dataset, spark, collection: str) -> None:
    assert resplit.current_documents(spark, collection) == resplit.source_documents(collection)


def test_split_parts_were_applied(resplit: Dataset, spark) -> None:
    parts = spark.sql(
        f"select row_count from {resplit.schema}.dms_applied_files where file_path rlike '/9[^/]+$'"
    ).collect()
    assert len(parts) == 2 and all(row["row_count"] > 0 for row in parts)


def test_the_bookkeeping_keeps_twenty_metadata_files_not_one_per_commit(replayed: Dataset, spark) -> None:
    """Each commit writes a metadata file listing every snapshot kept: the apply's tables
    delete all but the last twenty previous ones (cdc_metadata_file_properties), instead
    of keeping one more, each bigger, for every commit until the orphan-file removal."""
    table = f"{replayed.schema}.dms_applied_files"
    commits = spark.sql(f"select count(*) from {table}.snapshots").first()[0]
    assert commits > 21, "too few commits for the bound below to prove anything"
    folder = replayed.paths.warehouse / replayed.schema / "dms_applied_files" / "metadata"
    assert len(list(folder.glob("*.metadata.json"))) <= 21


@COLLECTION_PARAMS
def test_current_state_tables_get_the_metadata_properties(replayed: Dataset, spark, collection: str) -> None:
    """A current-state table, created by its first apply, gets them from the next run."""
    rows = spark.sql(f"show tblproperties {replayed.schema}.current_{collection}").collect()
    properties = {row["key"]: row["value"] for row in rows}
    assert properties.get("write.metadata.delete-after-commit.enabled") == "true"
    assert properties.get("write.metadata.previous-versions-max") == "20"
