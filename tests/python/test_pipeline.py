"""dbt on Spark turns the DMS stream into current-state Iceberg tables equal to the source."""

from __future__ import annotations

import hashlib

import pytest

from cdclake.reconcile.keys import key_json

from conftest import COLLECTION_PARAMS, Dataset
from dbt_project_tests import declared_tests

pytestmark = pytest.mark.slow
MARTS = ("clients", "engagements", "invoices", "invoice_line_items", "journal_entries", "journal_entry_lines")


def table_fingerprint(spark, table: str) -> str:
    rows = sorted(str(tuple(row)) for row in spark.sql(f"select * from {table}").drop("applied_at").collect())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def snapshot_id(spark, table: str) -> int:
    return spark.sql(f"select snapshot_id from {table}.snapshots order by committed_at desc limit 1").first()[0]


def test_dbt_build_runs_models_and_tests(in_order: Dataset) -> None:
    outcome = in_order.build_outcome
    # Every declared test ran and passed (36 today: docs/tests.md), none more, none skipped.
    assert outcome.count("pass") == len(declared_tests()), outcome.statuses
    assert outcome.count("fail", "error", "warn", "skipped") == 0, outcome.statuses
    assert outcome.count("success") == 12  # 4 current-state tables, 6 marts, 2 monitoring models


@COLLECTION_PARAMS
def test_in_order_state_equals_source(in_order: Dataset, spark, collection: str) -> None:
    assert in_order.current_documents(spark, collection) == in_order.source_documents(collection)


@COLLECTION_PARAMS
def test_late_and_duplicate_files_give_the_same_state(chaotic: Dataset, spark, collection: str) -> None:
    assert chaotic.current_documents(spark, collection) == chaotic.source_documents(collection)


def test_chaotic_run_really_applied_a_late_file_after_newer_ones(chaotic: Dataset, spark) -> None:
    applied = spark.sql(
        f"select file_path, file_modified_at, invocation_id, applied_at from {chaotic.schema}.dms_applied_files"
    ).collect()
    by_path: dict[str, int] = {}
    for row in applied:
        by_path[row["file_path"]] = by_path.get(row["file_path"], 0) + 1
    assert max(by_path.values()) >= 2, "no file was landed (and read) twice"
    runs = sorted({(row["applied_at"], row["invocation_id"]) for row in applied})
    run_order = {invocation: position for position, (_, invocation) in enumerate(runs)}
    cdc = [
        (run_order[row["invocation_id"]], row["file_path"].rsplit("/", 1)[1])
        for row in applied
        if "LOAD" not in row["file_path"]
    ]
    late = [(run, name) for run, name in cdc if any(other_run < run and other > name for other_run, other in cdc)]
    assert late, "no file arrived after a newer file had been applied"


def test_tables_agree_including_tombstones(in_order: Dataset, chaotic: Dataset, spark) -> None:
    for collection in ("invoices", "journal_entries"):
        query = "select _id, is_deleted, document, op, commit_ts from {}.current_" + collection
        left = sorted(map(tuple, spark.sql(query.format(in_order.schema)).collect()))
        right = sorted(map(tuple, spark.sql(query.format(chaotic.schema)).collect()))
        assert left == right
        assert any(row[1] for row in left), "no tombstone to compare"


def test_second_build_without_new_files_changes_nothing(in_order: Dataset, spark) -> None:
    current = [f"{in_order.schema}.current_{c}" for c in ("clients", "engagements", "invoices", "journal_entries")]
    marts = [f"{in_order.schema}.{m}" for m in MARTS]
    snapshots_before = {table: snapshot_id(spark, table) for table in current}
    content_before = {table: table_fingerprint(spark, table) for table in current + marts}
    applied_before = spark.sql(f"select count(*) from {in_order.schema}.dms_applied_files").first()[0]

    outcome = in_order.dbt("build")

    assert outcome.count("fail", "error") == 0
    assert {table: snapshot_id(spark, table) for table in current} == snapshots_before
    assert {table: table_fingerprint(spark, table) for table in current + marts} == content_before
    assert spark.sql(f"select count(*) from {in_order.schema}.dms_applied_files").first()[0] == applied_before


@pytest.mark.parametrize("mart", MARTS)
def test_endpoint_variants_give_the_same_typed_marts(in_order: Dataset, variant: Dataset, spark, mart: str) -> None:
    assert table_fingerprint(spark, f"{variant.schema}.{mart}") == table_fingerprint(spark, f"{in_order.schema}.{mart}")


def test_typed_marts_keep_types_and_precision(in_order: Dataset, spark) -> None:
    schema = {f.name: f.dataType.simpleString() for f in spark.table(f"{in_order.schema}.clients").schema.fields}
    assert schema["credit_limit"] == "decimal(18,2)"
    assert schema["founded_on"] == "timestamp"
    assert schema["annual_revenue"] == "bigint"
    source = {key_json(doc["_id"]): doc for doc in in_order.simulator.live_documents("clients")}
    for row in spark.sql(
        f"select client_id, founded_on, created_at, credit_limit from {in_order.schema}.clients"
    ).collect():
        doc = source[row["client_id"]]
        assert row["credit_limit"] == doc["credit_limit"].to_decimal()
        assert row["founded_on"].replace(tzinfo=None) == doc["founded_on"].replace(tzinfo=None)
        assert row["created_at"] == doc["created_at"].replace(tzinfo=None)
