"""Schema drift inside documents: typed models keep working, drift is reported, nothing is cast away."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bson import json_util

from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.demo.documents import make_document
from cdclake.reconcile.keys import key_json

from conftest import Dataset, new_dataset

pytestmark = pytest.mark.slow


@dataclass
class Drifted:
    dataset: Dataset
    first_build: Any
    second_build: Any
    drifted_ids: list[str]


@pytest.fixture(scope="module")
def drifted(workspace: Path, spark) -> Drifted:
    dataset = new_dataset(workspace, "drifted")
    first_build = dataset.dbt("build")
    later = dataset.simulator.counters.clock_us + 10_000_000
    events = []
    for index in range(3):
        document = make_document(dataset.simulator.seed, "invoices", index, 7)
        document.pop("currency")  # a field that every document had disappears
        if index == 0:
            document["total"] = "twelve euros"  # a decimal becomes a string that no decimal holds
        if index == 1:
            document["notes"] = "paid by bank transfer"  # a new field
        events.append(Event("U", document["_id"], document, later + index))
    path = dataset.paths.landing / "ledger" / "invoices" / "20261231-0000000000.parquet"
    write_dms_file(path, events, EndpointSettings(), with_op=True)
    return Drifted(dataset, first_build, dataset.dbt("build"), [key_json(event.key) for event in events])


def test_first_load_shows_no_drift(drifted: Drifted) -> None:
    assert drifted.first_build.count("warn", "fail", "error") == 0, drifted.first_build.statuses


def test_drift_is_reported_with_field_types_and_first_seen(drifted: Drifted, spark) -> None:
    findings = {
        (row["collection_name"], row["field_name"], row["drift"]): row
        for row in spark.sql("select * from drifted.schema_drift").collect()
    }
    assert set(findings) == {
        ("invoices", "total", "type changed"),
        ("invoices", "notes", "new field"),
        ("invoices", "currency", "field disappearing"),
    }
    assert findings[("invoices", "total", "type changed")]["field_types"] == "decimal, string"
    assert findings[("invoices", "currency", "field disappearing")]["first_commit_ts"] is not None


def test_typed_models_keep_working_and_flag_the_value_they_cannot_hold(drifted: Drifted, spark) -> None:
    outcome = drifted.second_build
    assert outcome.success and outcome.count("fail", "error") == 0
    warned = outcome.statuses.get("warn", [])
    assert any("uncast" in name and "invoices" in name for name in warned), warned
    assert "assert_no_schema_drift" in warned
    rows = spark.sql(
        "select invoice_id, total_amount, uncast_fields from drifted.invoices where size(uncast_fields) > 0"
    ).collect()
    assert [(row["invoice_id"], row["total_amount"], row["uncast_fields"]) for row in rows] == [
        (drifted.drifted_ids[0], None, ["total_amount"])
    ]
    raw = spark.sql(f"select document from drifted.current_invoices where _id = '{drifted.drifted_ids[0]}'").first()[
        "document"
    ]
    assert json_util.loads(raw)["total"] == "twelve euros"  # the value is kept, not lost


def test_other_collections_and_fields_are_quiet(drifted: Drifted, spark) -> None:
    others = spark.sql("select * from drifted.schema_drift where collection_name <> 'invoices'").collect()
    assert others == []
