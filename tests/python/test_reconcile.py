"""Reconciliation end to end: Iceberg tables built by dbt against the source (a mongodump
snapshot, or the fake replica set), through the ``cdclake reconcile`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cdclake.catalog import load_catalog
from cdclake.cli import main
from cdclake.demo.delivery import Delivery
from cdclake.demo.simulator import FAULT_KINDS
from cdclake.reconcile.lake import LakeState
from cdclake.reconcile.progress import Progress
from cdclake.reconcile.run import Options, reconcile
from cdclake.reconcile.scan import SparkSourceSide
from cdclake.reconcile.sides import SourceSide
from cdclake.reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource
from cdclake.reconcile.state import StateFiles
from cdclake.reconcile.table import TableSide
from cdclake.testing.replica_set import FakeReplicaSet

from conftest import EVENTS_PER_BATCH, Dataset, new_dataset


def run_reconcile(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, state: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    """``cdclake reconcile`` on a dataset, keeping its state in ``state`` (one per test, so
    that no test sees another's in-flight list or changed checkpoint)."""
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(dataset.paths.data_dir))
    monkeypatch.setenv("CDCLAKE_SCHEMA", dataset.schema)
    code = main(["reconcile", "--quiet", "--state-uri", str(state), *args])
    latest = state / "latest.json"
    return code, json.loads(latest.read_text()) if latest.is_file() else {}


def mismatches(result: dict[str, Any], mode: str) -> set[tuple[str, str, str]]:
    return {
        (m["collection"], m["key"], m["kind"])
        for check in result["checks"]
        if check["mode"] == mode
        for m in check["mismatches"]
    }


def expected(dataset: Dataset, kinds: set[str]) -> set[tuple[str, str, str]]:
    return {(f.collection, f.key, f.expected) for f in dataset.faults if f.kind in kinds}


def differing_fields(result: dict[str, Any], key: str) -> set[str]:
    return {
        f["path"] for check in result["checks"] for m in check["mismatches"] if m["key"] == key for f in m["fields"]
    }


ALL_FAULTS = set(FAULT_KINDS)


@pytest.mark.parametrize(
    ("mode", "visible"),
    [
        ("full", ALL_FAULTS),
        ("sample", ALL_FAULTS),  # a sample as large as the collections
        # Every key an apply wrote (the first check covers all applies): not the document
        # the source has and the table never saw.
        ("changed", ALL_FAULTS - {"source_only"}),
    ],
)
def test_each_mode_reports_exactly_the_injected_faults(
    faulty: Dataset, monkeypatch, tmp_path: Path, mode: str, visible: set[str]
) -> None:
    code, result = run_reconcile(faulty, monkeypatch, tmp_path, "--mode", mode, "--sample-size", "100000")
    assert code == 1 and result["status"] == "discrepancies"
    assert mismatches(result, mode) == expected(faulty, visible)
    (corrupted,) = [f for f in faulty.faults if f.kind == "corrupted_field"]
    assert differing_fields(result, corrupted.key) == {"status"}


def test_changed_mode_checks_each_apply_once(faulty: Dataset, monkeypatch, tmp_path: Path) -> None:
    _, first = run_reconcile(faulty, monkeypatch, tmp_path, "--mode", "changed")
    code, again = run_reconcile(faulty, monkeypatch, tmp_path, "--mode", "changed")
    assert [check["compared"] for check in again["checks"] if check["mode"] == "changed"] == [0, 0, 0, 0]
    assert again["changed_through"] and all(again["changed_through"].values())
    # The faults the first check found are still there: re-checked first, still confirmed.
    assert {c["mode"] for c in again["checks"] if c["status"] != "reconciled"} == {"recheck"}
    assert mismatches(again, "recheck") == mismatches(first, "changed")
    assert code == 1


def test_counts_see_the_missing_and_the_extra_document(faulty: Dataset, monkeypatch, tmp_path: Path) -> None:
    code, result = run_reconcile(faulty, monkeypatch, tmp_path, "--mode", "counts")
    differences = {c["collection"]: c["source_count"] - c["table_count"] for c in result["checks"]}
    assert differences == {"clients": -1, "engagements": 1, "invoices": 0, "journal_entries": 0}
    assert {c["collection"]: c["status"] for c in result["checks"] if c["status"] != "reconciled"} == {
        "clients": "discrepancies",
        "engagements": "discrepancies",
    }
    assert code == 1


def test_full_mode_bisects_down_to_the_differing_documents(faulty: Dataset, monkeypatch, tmp_path: Path) -> None:
    args = ("--mode", "full", "--leaf-size", "32", "--bisection-factor", "4")
    _, result = run_reconcile(faulty, monkeypatch, tmp_path, *args)
    for check in result["checks"]:
        faults = [f for f in faulty.faults if f.collection == check["collection"]]
        assert check["compared"] == len(faults)
        assert check["details"]["documents_in_leaves"] <= 32 * len(faults)


@pytest.mark.parametrize("fixture", ["in_order", "variant"])
def test_a_faithful_lake_reconciles_in_every_mode(fixture: str, request, monkeypatch, tmp_path: Path) -> None:
    dataset: Dataset = request.getfixturevalue(fixture)
    dataset.simulator.write_snapshot(dataset.paths.snapshot)
    code, result = run_reconcile(dataset, monkeypatch, tmp_path, "--mode", "all")
    assert {check["status"] for check in result["checks"]} == {"reconciled"}
    assert {check["mode"] for check in result["checks"]} == {"counts", "changed", "sample", "full"}
    assert code == 0


def test_changes_landed_but_not_applied_are_in_flight_until_the_next_apply(
    workspace: Path, spark, monkeypatch, tmp_path: Path
) -> None:
    dataset = new_dataset(workspace, "lagging")
    dataset.dbt("run", "--select", "current_state")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    delivery.land(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox))
    files, dataset.faults = dataset.simulator.inject_faults(dataset.paths.outbox, kinds=("corrupted_field",))
    delivery.land(files)
    dataset.simulator.write_snapshot(dataset.paths.snapshot)

    code, first = run_reconcile(dataset, monkeypatch, tmp_path, "--mode", "full")
    flights = [m for check in first["checks"] for m in check["mismatches"]]
    assert flights and all(m["in_flight"] for m in flights)
    assert (code, first["status"]) == (0, "in_flight")
    # What a difference in flight too long will name: the landed files holding its key
    # (as the listing names them) and the newest apply of its collection.
    lake = LakeState(spark, dataset.schema, str(dataset.paths.landing), load_catalog(dataset.paths))
    for mismatch in flights:
        pending = lake.pending(mismatch["collection"])
        files = pending.files_by_key[mismatch["key"]]
        assert files and set(files) <= set(pending.landed_at)
        assert all(Path(file.removeprefix("file:")).is_file() for file in files)
        newest = lake.last_apply(mismatch["collection"])
        assert newest is not None and newest.finished_at < min(pending.landed_at[f] for f in files)

    dataset.dbt("run", "--select", "current_state")
    code, second = run_reconcile(dataset, monkeypatch, tmp_path, "--mode", "counts")
    rechecked = [c for c in second["checks"] if c["mode"] == "recheck"]
    confirmed = {(m["collection"], m["key"], m["in_flight"]) for c in rechecked for m in c["mismatches"]}
    (fault,) = dataset.faults
    assert confirmed == {(fault.collection, fault.key, False)}
    assert sum(c["compared"] for c in rechecked) == len(flights)
    assert (code, second["status"]) == (1, "discrepancies")


def test_every_read_of_every_mode_goes_to_a_secondary(faulty: Dataset, spark, monkeypatch, tmp_path: Path) -> None:
    snapshot = SnapshotSource(faulty.paths.snapshot)
    catalog = load_catalog(faulty.paths)
    namespaces = catalog.namespaces()
    data = {name: [doc for doc, _ in snapshot.documents(namespaces[name])] for name in ("clients", "engagements")}
    with FakeReplicaSet(data) as replica_set:
        monkeypatch.setenv("CDCLAKE_MONGO_URI", replica_set.uri)
        source = MongoSource(MongoReadSettings(batch_size=200))
        lake = LakeState(spark, faulty.schema, str(faulty.paths.landing), catalog)
        options = Options(collections=tuple(data), sample_size=50)
        source_side = SparkSourceSide(spark, source, catalog.namespaces())  # Spark tasks read it too
        result = reconcile(
            source_side,
            TableSide(spark, faulty.schema, catalog),
            lake,
            options,
            StateFiles(tmp_path),
            Progress.silent(),
            "rs",
        )
        source_side.release()
        source.close()
    assert {check.mode for check in result.checks} == {"counts", "changed", "sample", "full"}
    assert {"aggregate", "find", "getMore"} <= set(replica_set.secondary.commands)
    assert replica_set.primary.commands == []
    found = {(m.collection, m.key) for check in result.checks if check.mode == "full" for m in check.mismatches}
    assert found == {(f.collection, f.key) for f in faulty.faults if f.collection in data}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--snapshot", "/nonexistent/dump"], {}, "no mongodump snapshot at /nonexistent/dump"),
        (["--source", "mongodb"], {"CDCLAKE_MONGO_URI": ""}, "set CDCLAKE_MONGO_URI"),
        (
            ["--source", "mongodb", "--read-preference", "secondaryPreferred"],
            {"CDCLAKE_MONGO_URI": "mongodb://x"},
            "opt in",
        ),
        (
            ["--source", "mongodb", "--mode", "counts"],
            {"CDCLAKE_MONGO_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"},
            "cannot read MongoDB",
        ),
        ([], {"CDCLAKE_SCHEMA": "nothing_built_here"}, "run `cdclake dbt build`"),
        (["--mode", "counts,everything"], {}, "unknown mode(s) everything"),
        (["--mode", ""], {}, "no reconciliation mode selected"),
    ],
)
def test_usage_and_connection_problems_exit_2_and_say_what_to_fix(
    faulty: Dataset, monkeypatch, capsys, args: list[str], env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(faulty.paths.data_dir))
    monkeypatch.setenv("CDCLAKE_SCHEMA", faulty.schema)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["reconcile", "--quiet", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_key_held_twice_by_the_table_is_reported_not_cancelled_out(faulty: Dataset, spark, tmp_path: Path) -> None:
    # Two equal rows would cancel in an XOR checksum: the table side looks for them.
    spark.sql("create namespace if not exists doubled")
    spark.sql(
        "create or replace table doubled.current_engagements using iceberg as "
        f"select * from {faulty.schema}.current_engagements "
        f"union all (select * from {faulty.schema}.current_engagements where not is_deleted order by _id limit 1)"
    )
    (doubled,) = spark.sql("select min(_id) from doubled.current_engagements where not is_deleted").first()
    options = Options(modes=("full",), collections=("engagements",))
    catalog = load_catalog(faulty.paths)
    lake = LakeState(spark, faulty.schema, str(faulty.paths.landing), catalog)  # its bookkeeping
    source = SourceSide(SnapshotSource(faulty.paths.snapshot), catalog.namespaces())
    table = TableSide(spark, "doubled", catalog)
    result = reconcile(source, table, lake, options, StateFiles(tmp_path), Progress.silent(), "snapshot")
    table.release()
    found = {(m.key, m.kind) for m in result.checks[0].mismatches}
    (source_only,) = [f.key for f in faulty.faults if f.collection == "engagements"]
    assert found == {(doubled, "duplicate_in_table"), (source_only, "missing_in_table")}
