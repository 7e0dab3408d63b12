"""The merge rule on hand-made events: newest wins, deletes stick, replays change nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bson import ObjectId

from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from conftest import Dataset

pytestmark = pytest.mark.slow
SETTINGS = EndpointSettings()
T0 = int(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)
KEY_A, KEY_B, KEY_C = ObjectId(b"aaaaaaaaaaaa"), ObjectId(b"bbbbbbbbbbbb"), ObjectId(b"cccccccccccc")


FIRST_CDC_FILE = "2026/11/26/20261126-1000000000.parquet"


def first_cdc_events() -> list[Event]:
    return [
        Event("U", KEY_A, invoice(KEY_A, 2), T0),  # same instant as the full load: sorts after it
        # Same timestamp, same file: row order decides; C ends inserted, deleted, re-inserted.
        Event("I", KEY_C, invoice(KEY_C, 1), T0 + 10),
        Event("D", KEY_C, None, T0 + 10),
        Event("I", KEY_C, invoice(KEY_C, 3), T0 + 10),
    ]


def invoice(key: ObjectId, version: int) -> dict:
    return {"_id": key, "number": f"INV-{version}", "version": version}


def land(paths: Paths, relative: str, events: list[Event], with_op: bool = True) -> None:
    write_dms_file(paths.landing / "ledger" / "invoices" / relative, events, SETTINGS, with_op=with_op)


def state(spark, schema: str) -> dict[str, tuple[bool, str | None]]:
    rows = spark.sql(
        f"select _id, is_deleted, get_json_object(document, '$.number') as number from {schema}.current_invoices"
    ).collect()
    return {row["_id"]: (row["is_deleted"], row["number"]) for row in rows}


@pytest.fixture(scope="module")
def crafted(workspace: Path, spark):
    paths = Paths(workspace / "crafted")
    return Dataset(paths, "crafted", simulator=None)


def test_merge_rule_step_by_step(crafted: Dataset, spark) -> None:
    paths, run = crafted.paths, lambda: crafted.dbt("run", "--select", "current_invoices")

    # Full load (no Op column) at T0; a CDC update of A at the very same instant sorts after it.
    land(
        paths,
        "LOAD00000001.parquet",
        [Event("I", KEY_A, invoice(KEY_A, 1), T0), Event("I", KEY_B, invoice(KEY_B, 1), T0)],
        with_op=False,
    )
    land(paths, FIRST_CDC_FILE, first_cdc_events())
    run()
    assert state(spark, "crafted") == {
        key_json(KEY_A): (False, "INV-2"),
        key_json(KEY_B): (False, "INV-1"),
        key_json(KEY_C): (False, "INV-3"),
    }

    # B is deleted; A updated again.
    land(
        paths,
        "2026/11/26/20261126-1000010000.parquet",
        [Event("D", KEY_B, None, T0 + 100), Event("U", KEY_A, invoice(KEY_A, 4), T0 + 100)],
    )
    run()
    assert state(spark, "crafted")[key_json(KEY_B)] == (True, None)

    # A late file with older events: must neither overwrite A nor resurrect B.
    land(
        paths,
        "2026/11/26/20261126-1000000500.parquet",
        [Event("U", KEY_A, invoice(KEY_A, 3), T0 + 50), Event("U", KEY_B, invoice(KEY_B, 2), T0 + 50)],
    )
    run()
    after_late = state(spark, "crafted")
    assert after_late[key_json(KEY_A)] == (False, "INV-4")
    assert after_late[key_json(KEY_B)] == (True, None)

    # The same file landed again (new modification time): read again, changes nothing.
    snapshots = spark.sql("select count(*) from crafted.current_invoices.snapshots").first()[0]
    land(paths, FIRST_CDC_FILE, first_cdc_events())
    run()
    assert state(spark, "crafted") == after_late
    applied = spark.sql("select count(*) from crafted.dms_applied_files").first()[0]
    assert applied == 5  # four files, one of them landed twice

    # No new files: no new Iceberg snapshot at all.
    before = spark.sql("select count(*) from crafted.current_invoices.snapshots").first()[0]
    run()
    assert spark.sql("select count(*) from crafted.current_invoices.snapshots").first()[0] == before
    assert before > snapshots


def test_full_refresh_rebuilds_the_same_state(crafted: Dataset, spark) -> None:
    before = state(spark, "crafted")
    crafted.dbt("run", "--select", "current_invoices", "--full-refresh")
    assert state(spark, "crafted") == before
    # Every currently landed file is recorded once after a rebuild.
    assert spark.sql("select count(*) from crafted.dms_applied_files").first()[0] == 4


def test_a_table_keyed_by_text_is_rebuilt_with_typed_keys(crafted: Dataset, spark) -> None:
    # A table built before keys were typed has no dms_key_text and DMS's text as _id.
    before = state(spark, "crafted")
    spark.sql("alter table crafted.current_invoices drop column dms_key_text")
    spark.sql("update crafted.current_invoices set _id = get_json_object(_id, '$.$oid')")
    crafted.dbt("run", "--select", "current_invoices")
    assert state(spark, "crafted") == before
    assert "dms_key_text" in spark.table("crafted.current_invoices").columns
