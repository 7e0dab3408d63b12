"""The Great Expectations suites on pandas: a sound frame passes every suite, and each way
of breaking a table fails exactly the expectation written for it."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pandas as pd
import pytest
import yaml

from cdclake.quality.suites import DBT_OWNED_EXPECTATIONS, SuiteFileError, load_suites
from cdclake.quality.validate import _columns, validate_frames
from cdclake.redaction import REDACTED
from cdclake.settings import expectations_dir

from repo import REPO

T = pd.Timestamp

SOUND = {
    "clients": [
        {"client_id": f"c{i}", "client_name": f"Client {i} GmbH", "tax_id": f"DE12345678{i}",
         "email": f"billing{i}@client{i}.example", "status": status, "credit_limit": D("1000.00"),
         "founded_on": T("1921-05-01"), "created_at": T("2021-03-04 10:00")}
        for i, status in enumerate(["active", "prospect", "inactive"])
    ],
    "engagements": [
        {"engagement_id": f"e{i}", "client_id": "c1", "engagement_code": f"ENG-{i}", "engagement_type": kind,
         "status": "active", "hourly_rate": D("150.00"), "budget_hours": 40,
         "start_date": T("2024-01-01"), "end_date": end}
        for i, (kind, end) in enumerate([("audit", T("2024-06-30")), ("tax", None), ("advisory", T("2024-01-01"))])
    ],
    "invoices": [
        {"invoice_id": f"i{i}", "invoice_number": f"INV-{i}", "client_id": "c1", "status": status,
         "currency": "EUR", "total_amount": D("125.50"), "line_items_amount": D("125.50"),
         "issued_at": T("2025-01-10"), "due_at": T("2025-02-10"), "paid_at": paid}
        for i, (status, paid) in enumerate([("paid", T("2025-01-20")), ("issued", None), ("draft", None)])
    ],
    "invoice_line_items": [
        {"invoice_line_id": f"i1-{i}", "invoice_id": "i1", "quantity": D("2.5000"), "unit_price": D("10.00"),
         "line_amount": D("25.00"), "tax_rate": 0.2}
        for i in range(3)
    ],
    "journal_entries": [
        {"journal_entry_id": f"JE-{i}", "entry_no": 10_000_000_000 + i, "posted_at": T("2025-03-31 12:00"),
         "accounting_period": "2025-03", "line_count": 2, "debit_total": D("99.99"), "credit_total": D("99.99")}
        for i in range(3)
    ],
    "journal_entry_lines": [
        {"journal_entry_line_id": f"JE-1-{i}", "journal_entry_id": "JE-1", "account_code": account,
         "debit_amount": debit, "credit_amount": credit}
        for i, (account, debit, credit) in enumerate([("1200", D("99.99"), D("0.00")), ("4000", D("0.00"), D("99.99"))])
    ],
}  # fmt: skip

# (table, change to row 0, the one expectation that must fail: type, columns). SHRUNK instead
# of a change: the table is as sound, but the previous run counted twice its rows.
SHRUNK = None
ROW_COUNT = ("expect_table_row_count_to_be_between", ())
BREAKAGES = [
    ("clients", SHRUNK, ROW_COUNT),
    ("clients", {"tax_id": "de123"}, ("expect_column_values_to_match_regex", ("tax_id",))),
    ("clients", {"email": "billing-at-client"}, ("expect_column_values_to_match_regex", ("email",))),
    ("clients", {"credit_limit": D("-5.00")}, ("expect_column_values_to_be_between", ("credit_limit",))),
    ("clients", {"founded_on": T("1700-01-01")}, ("expect_column_values_to_be_between", ("founded_on",))),
    ("clients", {"created_at": T("1999-12-31")}, ("expect_column_values_to_be_between", ("created_at",))),
    ("engagements", SHRUNK, ROW_COUNT),
    ("engagements", {"hourly_rate": D("0.00")}, ("expect_column_values_to_be_between", ("hourly_rate",))),
    ("engagements", {"budget_hours": 0}, ("expect_column_values_to_be_between", ("budget_hours",))),
    ("engagements", {"start_date": T("1999-12-31")}, ("expect_column_values_to_be_between", ("start_date",))),
    ("engagements", {"end_date": T("2023-12-31")}, ("expect_column_pair_values_a_to_be_greater_than_b", ("end_date", "start_date"))),
    ("invoices", SHRUNK, ROW_COUNT),
    ("invoices", {"currency": "euro"}, ("expect_column_values_to_match_regex", ("currency",))),
    ("invoices", {"total_amount": D("-1.00"), "line_items_amount": D("-1.00")}, ("expect_column_values_to_be_between", ("total_amount",))),
    ("invoices", {"issued_at": T("2199-01-01"), "due_at": None, "paid_at": None, "status": "issued"}, ("expect_column_values_to_be_between", ("issued_at",))),
    ("invoices", {"due_at": T("2025-01-09")}, ("expect_column_pair_values_a_to_be_greater_than_b", ("due_at", "issued_at"))),
    ("invoices", {"paid_at": T("2025-01-09")}, ("expect_column_pair_values_a_to_be_greater_than_b", ("paid_at", "issued_at"))),
    ("invoice_line_items", SHRUNK, ROW_COUNT),
    ("invoice_line_items", {"quantity": D("0.0000")}, ("expect_column_values_to_be_between", ("quantity",))),
    ("invoice_line_items", {"unit_price": D("-0.01")}, ("expect_column_values_to_be_between", ("unit_price",))),
    ("invoice_line_items", {"line_amount": D("-25.00")}, ("expect_column_values_to_be_between", ("line_amount",))),
    ("invoice_line_items", {"tax_rate": 1.5}, ("expect_column_values_to_be_between", ("tax_rate",))),
    ("journal_entries", SHRUNK, ROW_COUNT),
    ("journal_entries", {"posted_at": T("1999-12-31")}, ("expect_column_values_to_be_between", ("posted_at",))),
    ("journal_entries", {"accounting_period": "2025-13"}, ("expect_column_values_to_match_regex", ("accounting_period",))),
    ("journal_entries", {"line_count": 1}, ("expect_column_values_to_be_between", ("line_count",))),
    ("journal_entry_lines", SHRUNK, ROW_COUNT),
    ("journal_entry_lines", {"account_code": "12A0"}, ("expect_column_values_to_match_regex", ("account_code",))),
    ("journal_entry_lines", {"debit_amount": D("-99.99")}, ("expect_column_values_to_be_between", ("debit_amount",))),
    ("journal_entry_lines", {"credit_amount": D("-1.00")}, ("expect_column_values_to_be_between", ("credit_amount",))),
]  # fmt: skip


def frames(change: dict | None = None, table: str | None = None) -> dict[str, pd.DataFrame]:
    out = {}
    for name, rows in SOUND.items():
        rows = [dict(row) for row in rows]
        if name == table:
            rows[0].update(change or {})
        out[name] = pd.DataFrame(rows)
    return out


@pytest.fixture(scope="module")
def context():
    import great_expectations as gx

    return gx.get_context(mode="ephemeral")


def failures(result, table: str) -> set[tuple[str, tuple[str, ...]]]:
    suite = next(s for s in result.suites if s.table == table)
    return {(e.expectation, e.columns) for e in suite.failed}


def test_sound_tables_pass_every_suite(context):
    result = validate_frames(frames(), "pandas", context=context)
    assert [s.table for s in result.suites] == sorted(SOUND)
    assert result.status == "passed", [(s.table, s.failed) for s in result.suites if s.failed]
    assert {s.table: s.rows for s in result.suites} == {name: len(rows) for name, rows in SOUND.items()}
    assert all(e.error is None for s in result.suites for e in s.expectations)


def test_every_expectation_has_a_breakage_case():
    # A new expectation without a breakage below fails here, and so does a breakage of an
    # expectation that no longer exists; one expectation is one (table, type, columns).
    ids = [(s.table, e["type"], _columns(e["kwargs"])) for s in load_suites() for e in s.definition["expectations"]]
    assert len(ids) == len(set(ids)), "two expectations of one table share a type and columns"
    broken = [(table, *expected) for table, _, expected in BREAKAGES]
    assert len(broken) == len(set(broken)), "two breakage cases for one expectation"
    assert set(broken) == set(ids)


@pytest.mark.parametrize(
    ("table", "change", "expected"),
    BREAKAGES,
    ids=[f"{table}-{expected[0].removeprefix('expect_')}-{'-'.join(expected[1])}" for table, _, expected in BREAKAGES],
)
def test_each_breakage_fails_exactly_its_expectation(context, table, change, expected):
    suites = [s for s in load_suites() if s.table == table]
    previous = {table: 2 * len(SOUND[table])} if change is SHRUNK else None
    result = validate_frames(frames(change, table), "pandas", context=context, suites=suites, previous_rows=previous)
    assert failures(result, table) == {expected}
    (failed,) = result.suites[0].failed
    if expected == ROW_COUNT:
        assert failed.observed == str(len(SOUND[table]))
        return
    assert failed.rows_failed == (2 if expected[0] == "expect_column_values_to_be_unique" else 1)
    key = result.suites[0].key
    assert failed.examples and all(key in example for example in failed.examples)


def test_failing_examples_show_the_key_and_redact_sensitive_values(context):
    suites = [s for s in load_suites() if s.table == "clients"]
    result = validate_frames(
        frames({"email": "billing-at-client"}, "clients"), "pandas", context=context, suites=suites
    )
    (failed,) = result.suites[0].failed
    assert failed.examples == ({"client_id": "c0", "email": REDACTED},)
    assert "billing-at-client" not in str(result.to_json())


def test_row_count_bounds_come_from_the_last_run(context):
    (suite,) = [s for s in load_suites() if s.table == "invoices"]
    assert suite.row_count_parameters(None) == {"min_rows": 1, "max_rows": None}
    assert suite.row_count_parameters(1000) == {"min_rows": 900, "max_rows": 2000}
    shrunk = validate_frames(
        frames(), "pandas", context=context, suites=[suite], previous_rows={"invoices": 5}
    )  # at least 4 rows
    assert failures(shrunk, "invoices") == {("expect_table_row_count_to_be_between", ())}
    assert shrunk.suites[0].failed[0].observed == "3"
    kept = validate_frames(frames(), "pandas", context=context, suites=[suite], previous_rows={"invoices": 3})
    assert kept.status == "passed"


def test_every_column_a_suite_checks_is_a_documented_column_of_its_model():
    documented = {}
    for path in (REPO / "models").rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            documented[model["name"]] = {c["name"] for c in model.get("columns", [])}
    for suite in load_suites():
        assert suite.table in documented, f"{suite.path}: no dbt model named {suite.table}"
        columns = {
            c for e in suite.definition["expectations"] for k, c in e["kwargs"].items() if k.startswith("column")
        }
        assert columns | {suite.key} <= documented[suite.table], f"{suite.path}: {columns - documented[suite.table]}"


def test_a_broken_suite_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / "invoices.json").write_text('{"name": "invoices", "expectations": [], "meta": {"table": "invoices"}}')
    with pytest.raises(SuiteFileError, match=r"invoices\.json.*'key'"):
        load_suites(tmp_path)
    (tmp_path / "invoices.json").write_text("{not json")
    with pytest.raises(SuiteFileError, match=r"invoices\.json: not valid JSON"):
        load_suites(tmp_path)
    assert len(load_suites(expectations_dir())) == len(SOUND)


@pytest.mark.parametrize("expectation", sorted(DBT_OWNED_EXPECTATIONS))
def test_a_suite_that_writes_a_rule_dbt_owns_is_refused(tmp_path, expectation):
    """One owner per rule: keys, required fields, enumerations and sums are dbt tests."""
    suite = {
        "name": "invoices",
        "meta": {"table": "invoices", "key": "invoice_id", "collection": "invoices"},
        "expectations": [
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "currency", "regex": "^[A-Z]{3}$"}},
            {"type": expectation, "kwargs": {"column": "invoice_number"}},
        ],
    }
    (tmp_path / "invoices.json").write_text(json.dumps(suite))
    with pytest.raises(
        SuiteFileError, match=rf"invoices\.json: expectation 2 \({expectation} on invoice_number\).*dbt"
    ):
        load_suites(tmp_path)
