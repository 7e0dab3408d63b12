"""The dbt tests can fail: one small dataset with a fault planted for each singular test (and
for a test of each kept generic family), one `dbt run` and one `dbt test`, and each test
fails with exactly the rows of its planted fault while every other test passes.

Faults come in through landing files where the data can carry them (an invoice whose total
is not the sum of its lines, an unbalanced journal entry, a field changing type, an orphan
client id, an unknown status, a credit limit with half a cent). The two invariants only a
broken apply can break are planted, after the run, in the tables the apply writes, as
that bug would leave them: a second record of a landing file (two runs applying the same
file at once) and a second row for one key (a MERGE that inserted instead of updating).
`dbt test` rather than `dbt build`, because a build skips every model downstream of a
failing test. The same dataset shows the report's lake facts (events applied, CDC lag).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128

from cdclake.catalog import load_catalog
from cdclake.dbt_runner import DbtOutcome, run_dbt
from cdclake.demo.dms import EndpointSettings, Event, write_dms_file
from cdclake.demo.documents import make_document, object_id
from cdclake.demo.simulator import Simulator
from cdclake.reconcile.keys import key_json
from cdclake.report.lake_facts import read_lake_facts
from cdclake.settings import Paths

from conftest import SEED, Dataset
from dbt_project_tests import declared_tests

pytestmark = pytest.mark.slow
SCHEMA = "planted"
DOCUMENTS = 40
FULL_LOAD = {"clients": 4, "engagements": 6, "invoices": 18, "journal_entries": 12}
ORPHAN_CLIENT = object_id("clients", 999_999)
PLANTED_TESTS = (
    "assert_invoice_total_equals_line_sum",
    "assert_journal_entries_balance",
    "landing_files_applied_once_current_invoices_",
    "assert_no_schema_drift",
    "unique_current_clients__id",
    "relationships_invoices_client_id__client_id__ref_clients_",
    "accepted_values_invoices_status__draft__issued__paid__void",
    "no_uncast_values_clients_uncast_fields",
)
WARN = {"assert_no_schema_drift", "no_uncast_values_clients_uncast_fields"}
LATE = 3_600  # seconds the clients' CDC file waited in landing before the run


@dataclass
class Planted:
    dataset: Dataset
    run: DbtOutcome  # dbt run: every model
    outcome: DbtOutcome  # dbt test: every test
    results: dict[str, dict[str, Any]]  # test name -> its entry in run_results.json
    # test name -> (columns of the test's failing rows, the rows the planted fault must give)
    expected: dict[str, tuple[tuple[str, ...], set[tuple]]]
    landed_rows: dict[str, int]  # per collection, every row landed (none quarantined)
    run_seconds: float  # from the clients file's modification time, plus LATE, to the end of the run


def node_name(unique_id: str) -> str:
    """``test.cdclake.<name>`` (singular) or ``test.cdclake.<name>.<hash>`` (generic)."""
    return unique_id.split(".")[2]


@pytest.fixture(scope="module")
def planted(workspace: Path, spark) -> Planted:
    paths = Paths(workspace / SCHEMA)
    simulator = Simulator(paths.simulator_state, SEED, EndpointSettings(), rows_per_file=250)
    simulator.full_load(DOCUMENTS, paths.landing)

    # As the source (or a faulty capture) would send them: updates newer than the full load.
    later = simulator.counters.clock_us + 10_000_000
    invoices = [make_document(SEED, "invoices", index, 1) for index in range(1, 5)]
    invoices[0]["total"] = Decimal128(invoices[0]["total"].to_decimal() + Decimal("0.01"))
    invoices[1]["client_id"] = ORPHAN_CLIENT
    invoices[2]["status"] = "overdue"
    invoices[3]["currency"] = 978  # a string in every other invoice
    entry = make_document(SEED, "journal_entries", 1, 1)
    entry["lines"][0]["debit"] = Decimal128(entry["lines"][0]["debit"].to_decimal() + Decimal("1.00"))
    client = make_document(SEED, "clients", 1, 1)
    client["credit_limit"] = Decimal128("1000.005")  # decimal(18,2) cannot hold it: uncast, never rounded
    landed = {"invoices": invoices, "journal_entries": [entry], "clients": [client]}
    for collection, documents in landed.items():
        events = [Event("U", doc["_id"], doc, later + i) for i, doc in enumerate(documents)]
        path = paths.landing / "ledger" / collection / "20261231-0000000000.parquet"
        write_dms_file(path, events, EndpointSettings(), with_op=True)
    started = time.time()  # the clients file waited an hour in landing
    os.utime(paths.landing / "ledger" / "clients" / "20261231-0000000000.parquet", (started - LATE, started - LATE))
    dataset = Dataset(paths, SCHEMA, simulator)
    run = dataset.dbt("run")
    run_seconds = time.time() - started

    # As a bug in the apply would leave them.
    (load_file,) = spark.sql(
        f"select file_path from {SCHEMA}.dms_applied_files where file_path like '%/invoices/LOAD00000001.parquet'"
    ).first()
    spark.sql(
        f"insert into {SCHEMA}.dms_applied_files select source_name, file_path, file_modified_at, file_bytes, "
        f"row_count, quarantine_reason, target_table, current_timestamp(), 'a-concurrent-run' "
        f"from {SCHEMA}.dms_applied_files where file_path = '{load_file}'"
    )
    doubled = key_json(object_id("clients", 0))
    spark.sql(f"insert into {SCHEMA}.current_clients select * from {SCHEMA}.current_clients where _id = '{doubled}'")

    outcome = run_dbt(["test"], paths, schema=SCHEMA)
    run_results = json.loads((paths.dbt_dir / "target" / "run_results.json").read_text())
    results = {node_name(r["unique_id"]): r for r in run_results["results"] if r["unique_id"].startswith("test.")}
    expected = {
        "assert_invoice_total_equals_line_sum": (("invoice_id",), {(key_json(invoices[0]["_id"]),)}),
        "assert_journal_entries_balance": (("journal_entry_id",), {(key_json(entry["_id"]),)}),
        "landing_files_applied_once_current_invoices_": (("file_path", "times_applied"), {(load_file, 2)}),
        "assert_no_schema_drift": (
            ("collection_name", "field_name", "drift", "field_types"),
            {("invoices", "currency", "type changed", "int, string")},
        ),
        "unique_current_clients__id": (("unique_field", "n_records"), {(doubled, 2)}),
        "relationships_invoices_client_id__client_id__ref_clients_": (("from_field",), {(key_json(ORPHAN_CLIENT),)}),
        "accepted_values_invoices_status__draft__issued__paid__void": (("value_field",), {("overdue",)}),
        "no_uncast_values_clients_uncast_fields": (
            ("client_id", "credit_limit", "uncast_fields"),
            {(key_json(client["_id"]), None, ("credit_limit",))},
        ),
    }
    assert set(expected) == set(PLANTED_TESTS)
    landed_rows = {name: count + len(landed.get(name, [])) for name, count in FULL_LOAD.items()}
    return Planted(dataset, run, outcome, results, expected, landed_rows, run_seconds)


def test_every_singular_test_has_a_planted_fault() -> None:
    singular = {t.name for t in declared_tests() if t.kind == "singular"}
    assert singular <= set(PLANTED_TESTS), singular - set(PLANTED_TESTS)


def test_the_tests_fail_exactly_where_faults_were_planted(planted: Planted) -> None:
    assert planted.run.count("success") == 12, planted.run.statuses  # every model built: the faults are in the data
    statuses = {name: result["status"] for name, result in planted.results.items()}
    assert len(statuses) == len(declared_tests())
    failing = {name: status for name, status in statuses.items() if status != "pass"}
    assert failing == {name: "warn" if name in WARN else "fail" for name in planted.expected}
    assert not planted.outcome.success  # and `dbt test` says so


@pytest.mark.parametrize("test", PLANTED_TESTS)
def test_each_test_fails_with_exactly_its_planted_rows(planted: Planted, spark, test: str) -> None:
    columns, rows = planted.expected[test]
    result = planted.results[test]
    assert result["failures"] == len(rows)
    found = {tuple(hashable(row[c]) for c in columns) for row in spark.sql(result["compiled_code"]).collect()}
    assert found == rows


def hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def test_an_over_precise_amount_is_uncast_and_kept_not_rounded(planted: Planted, spark) -> None:
    key = key_json(object_id("clients", 1))
    row = spark.sql(f"select credit_limit, uncast_fields from {SCHEMA}.clients where client_id = '{key}'").first()
    assert (row["credit_limit"], row["uncast_fields"]) == (None, ["credit_limit"])
    (document,) = spark.sql(f"select document from {SCHEMA}.current_clients where _id = '{key}'").first()
    assert json.loads(document)["credit_limit"] == {"$numberDecimal": "1000.005"}


def test_the_report_counts_events_applied_and_cdc_lag_from_the_lake(planted: Planted, spark) -> None:
    # Events applied: every landed row (none quarantined). CDC lag: the longest a file waited
    # in landing before it was applied; the clients file was an hour old when the run began.
    facts = read_lake_facts(spark, SCHEMA, None, load_catalog(planted.dataset.paths))
    assert facts.events_applied == planted.landed_rows
    lag = facts.lag_seconds
    assert LATE - 1 <= lag["clients"] <= LATE + planted.run_seconds + 1, lag
    assert all(seconds < LATE for name, seconds in lag.items() if name != "clients"), lag
