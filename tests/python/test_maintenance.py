"""Iceberg upkeep (cdclake/maintenance.py): after many small batches, maintenance folds the
deletes and compacts the files, and nothing is lost, not when it runs beside an apply,
not when it is killed midway; time travel within the retention keeps working."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cdclake.demo.delivery import Delivery
from cdclake.demo.documents import COLLECTIONS
from cdclake.maintenance import (
    LOG_TABLE,
    MaintenanceSettingError,
    MaintenanceSettings,
    lake_tables,
    maintain,
    table_health,
)

from conftest import EVENTS_PER_BATCH, Dataset, new_dataset

SMALL_BATCHES = 6
EXPIRE_ALL_BUT_LAST = MaintenanceSettings(snapshot_retention=dt.timedelta(seconds=1), keep_last_snapshots=2)


def table_health_of(spark, table: str, since: dt.datetime | None = None) -> dict[str, int]:
    files = spark.sql(f"select content, count(*) n from {table}.files group by content").collect()
    by_content = {row["content"]: row["n"] for row in files}
    return {
        "data_files": by_content.get(0, 0),
        "delete_files": by_content.get(1, 0) + by_content.get(2, 0),
        "snapshots": spark.sql(f"select count(*) from {table}.snapshots").first()[0],
        "snapshots_before": spark.sql(
            f"select count(*) from {table}.snapshots where committed_at < timestamp '{since or dt.datetime.max}'"
        ).first()[0],
    }


def assert_lake_matches_source(dataset: Dataset, spark) -> None:
    for collection in COLLECTIONS:
        assert dataset.current_documents(spark, collection) == dataset.source_documents(collection), collection


def apply_batch(dataset: Dataset, delivery: Delivery) -> None:
    delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH // 4, dataset.paths.outbox), chaotic=False)
    dataset.dbt("run", "--select", "current_state")


@dataclass
class Upkept:
    dataset: Dataset
    delivery: Delivery
    before: dict[str, dict[str, int]]
    after: dict[str, dict[str, int]]
    first_snapshot: int
    first_rows: int


@pytest.fixture(scope="module")
def upkept(workspace, spark) -> Iterator[Upkept]:
    """A lake after many small batches, then maintained with every snapshot but the last two
    out of retention."""
    dataset = new_dataset(workspace, "upkeep")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    dataset.dbt("run")
    invoices = f"{dataset.schema}.current_invoices"
    first_snapshot = spark.sql(f"select snapshot_id from {invoices}.snapshots order by committed_at desc").first()[0]
    first_rows = spark.sql(f"select count(*) from {invoices}").first()[0]
    for _ in range(SMALL_BATCHES):
        apply_batch(dataset, delivery)
    dataset.dbt("run", "--exclude", "current_state")
    tables = lake_tables(spark, dataset.schema)
    before = {name: table_health_of(spark, f"{dataset.schema}.{name}") for name in tables}
    time.sleep(1.1)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    maintain(spark, dataset.schema, EXPIRE_ALL_BUT_LAST, say=lambda _: None)
    after = {name: table_health_of(spark, f"{dataset.schema}.{name}", since=started) for name in tables}
    yield Upkept(dataset, delivery, before, after, first_snapshot, first_rows)


def test_small_batches_leave_files_and_deletes_that_maintenance_folds(upkept: Upkept) -> None:
    before, after = upkept.before["current_invoices"], upkept.after["current_invoices"]
    assert before["delete_files"] > 0 and before["data_files"] > SMALL_BATCHES
    assert after["delete_files"] == 0
    assert after["data_files"] < before["data_files"]
    for name, health in upkept.after.items():
        # Past the retention only the last two are kept, the maintenance's own commits first.
        newer = health["snapshots"] - health["snapshots_before"]
        assert health["snapshots_before"] <= max(0, 2 - newer), (name, health)
        assert upkept.before[name]["snapshots"] >= health["snapshots_before"], name


def test_nothing_is_lost_and_every_table_is_logged(upkept: Upkept, spark) -> None:
    assert_lake_matches_source(upkept.dataset, spark)
    logged = {row[0] for row in spark.sql(f"select table_name from {upkept.dataset.schema}.{LOG_TABLE}").collect()}
    assert logged == set(upkept.before)


def test_time_travel_within_the_retention_still_works(workspace, spark) -> None:
    dataset = new_dataset(workspace, "upkeep_travel")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    dataset.dbt("run", "--select", "current_state")
    invoices = f"{dataset.schema}.current_invoices"
    snapshot = spark.sql(f"select snapshot_id from {invoices}.snapshots order by committed_at desc").first()[0]
    rows = spark.sql(f"select count(*), count_if(is_deleted) from {invoices}").first()
    apply_batch(dataset, delivery)
    apply_batch(dataset, delivery)
    maintain(spark, dataset.schema, MaintenanceSettings(keep_last_snapshots=1), say=lambda _: None)
    assert table_health_of(spark, invoices)["delete_files"] == 0
    assert spark.sql(f"select count(*), count_if(is_deleted) from {invoices} version as of {snapshot}").first() == rows
    assert_lake_matches_source(dataset, spark)


def test_maintenance_beside_an_apply_loses_nothing(upkept: Upkept, spark) -> None:
    dataset = upkept.dataset
    for _ in range(2):  # new small files and deletes to compact while the next batch applies
        apply_batch(dataset, upkept.delivery)
    failures: list[BaseException] = []

    def upkeep() -> None:
        try:
            maintain(spark, dataset.schema, MaintenanceSettings(), say=lambda _: None)
        except BaseException as error:
            failures.append(error)

    worker = threading.Thread(target=upkeep)
    worker.start()
    apply_batch(dataset, upkept.delivery)
    worker.join()
    assert failures == [], [str(failure)[:600] for failure in failures]
    assert_lake_matches_source(dataset, spark)


def test_a_maintenance_run_killed_midway_leaves_readable_tables(upkept: Upkept, spark, workspace) -> None:
    dataset = upkept.dataset
    apply_batch(dataset, upkept.delivery)
    environment = {
        **os.environ,
        "CDCLAKE_DATA_DIR": str(workspace / "shared"),  # the test session's warehouse
        "CDCLAKE_SCHEMA": dataset.schema,
        "CDCLAKE_DBT_MANIFEST": str(dataset.paths.dbt_dir / "target" / "manifest.json"),
    }
    logged = spark.sql(f"select count(*) from {dataset.schema}.{LOG_TABLE}").first()[0]
    run = subprocess.Popen([sys.executable, "-m", "cdclake.cli", "maintain"], env=environment)
    deadline = time.monotonic() + 240
    while True:
        spark.sql(f"refresh table {dataset.schema}.{LOG_TABLE}")
        if spark.sql(f"select count(*) from {dataset.schema}.{LOG_TABLE}").first()[0] > logged:
            break  # one table maintained, others still to come
        assert run.poll() is None and time.monotonic() < deadline, "maintenance ended before it could be killed"
        time.sleep(0.2)
    run.send_signal(signal.SIGKILL)
    run.wait()
    for name in lake_tables(spark, dataset.schema):
        spark.sql(f"refresh table {dataset.schema}.{name}")
        spark.sql(f"select count(*) from {dataset.schema}.{name}").collect()
    assert_lake_matches_source(dataset, spark)


def test_an_orphan_window_shorter_than_the_longest_run_is_refused(monkeypatch) -> None:
    with pytest.raises(MaintenanceSettingError, match=r"CDCLAKE_ORPHAN_FILE_AGE_DAYS \(2\).*CDCLAKE_LONGEST_RUN_HOURS"):
        MaintenanceSettings(orphan_file_age=dt.timedelta(days=2), longest_run=dt.timedelta(hours=72))
    monkeypatch.setenv("CDCLAKE_ORPHAN_FILE_AGE_DAYS", "0.5")
    with pytest.raises(MaintenanceSettingError, match="at least 1 day"):
        MaintenanceSettings.from_env()
    monkeypatch.setenv("CDCLAKE_ORPHAN_FILE_AGE_DAYS", "1.5")
    monkeypatch.setenv("CDCLAKE_LONGEST_RUN_HOURS", "an hour")
    with pytest.raises(MaintenanceSettingError, match='CDCLAKE_LONGEST_RUN_HOURS="an hour" is not a number'):
        MaintenanceSettings.from_env()
    monkeypatch.setenv("CDCLAKE_LONGEST_RUN_HOURS", "6")
    settings = MaintenanceSettings.from_env()
    assert settings.orphan_file_age == dt.timedelta(hours=36) and settings.snapshot_retention == dt.timedelta(days=5)


def test_table_health_reads_files_snapshots_and_the_last_maintenance(upkept: Upkept, spark) -> None:
    schema = upkept.dataset.schema
    health = {h.table: h for h in table_health(spark, schema, MaintenanceSettings())}
    assert set(health) == set(upkept.before)  # every table but the log itself
    invoices = health["current_invoices"]
    measured = table_health_of(spark, f"{schema}.current_invoices")
    assert (invoices.data_files, invoices.delete_files) == (measured["data_files"], measured["delete_files"])
    assert invoices.bytes > 0 and invoices.last_maintained is not None
    assert not any(h.overdue for h in health.values())  # every snapshot is minutes old
    # A month on with no maintenance, any table with more old snapshots than it keeps is overdue.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    aged = table_health(spark, schema, MaintenanceSettings(keep_last_snapshots=1), now=later)
    assert {h.table for h in aged if h.overdue} == {h.table for h in aged if h.snapshots > 1}
