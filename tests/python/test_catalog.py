"""The catalog of collections comes from dbt's manifest: what the project declares, with
each DMS setting resolved as the SQL resolves it, and a clear refusal of what it lacks."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from cdclake.catalog import Catalog, CatalogError, load_catalog, manifest_path
from cdclake.cli import main
from cdclake.demo.documents import COLLECTIONS
from cdclake.settings import Paths

from conftest import Dataset


@pytest.fixture(scope="module")
def manifest(in_order: Dataset) -> dict:
    return json.loads(manifest_path(in_order.paths).read_text())


def test_the_catalog_lists_the_projects_collections_with_their_settings(in_order: Dataset) -> None:
    catalog = load_catalog(in_order.paths)
    assert sorted(catalog.names()) == sorted(COLLECTIONS)  # the simulated source's, found in dbt's files
    for collection in catalog:
        assert collection.database == "ledger"
        assert collection.source == f"source.cdclake.ledger.{collection.name}"
        assert collection.table("s") == f"s.current_{collection.name}"
        assert (collection.key_column, collection.timestamp_column) == ("_id", "dms_commit_ts")
        assert collection.file_name_glob == "*.parquet"
        # how quiet it may be: its dbt source's freshness (the report's Freshness line)
        assert (collection.warn_after, collection.error_after) == (dt.timedelta(days=1), dt.timedelta(days=3))


def test_each_mart_belongs_to_the_one_collection_it_is_built_from(in_order: Dataset) -> None:
    catalog = load_catalog(in_order.paths)
    assert {c.name: set(c.marts) for c in catalog} == {
        "clients": {"clients"},
        "engagements": {"engagements"},
        "invoices": {"invoices", "invoice_line_items"},
        "journal_entries": {"journal_entries", "journal_entry_lines"},
    }
    owners = catalog.table_collections()
    assert owners["current_invoices"] == owners["invoice_line_items"] == "invoices"
    assert "field_type_observations" not in owners and "schema_drift" not in owners  # of every collection


def test_vars_given_to_dbt_reach_the_catalog(variant: Dataset) -> None:
    assert {c.key_column for c in load_catalog(variant.paths)} == {"oid_id"}  # dbt run --vars {dms_key_column: …}


def test_a_tables_own_freshness_is_its_limit(manifest: dict) -> None:
    changed = copy.deepcopy(manifest)
    changed["sources"]["source.cdclake.ledger.invoices"]["config"]["freshness"] = {
        "warn_after": {"count": 30, "period": "minute"}, "error_after": {"count": None, "period": None}
    }  # fmt: skip
    invoices = Catalog.from_manifest(changed).get("invoices")
    assert (invoices.warn_after, invoices.error_after) == (dt.timedelta(minutes=30), None)


def test_a_table_meta_overrides_the_projects_default(manifest: dict) -> None:
    changed = copy.deepcopy(manifest)
    changed["sources"]["source.cdclake.ledger.invoices"]["meta"]["dms_key_column"] = "oid_id"
    catalog = Catalog.from_manifest(changed)
    assert catalog.get("invoices").key_column == "oid_id"
    assert catalog.get("clients").key_column == "_id"


def test_a_source_without_its_database_is_refused_by_name(manifest: dict) -> None:
    changed = copy.deepcopy(manifest)
    source = changed["sources"]["source.cdclake.ledger.clients"]
    source["meta"].pop("dms_database")
    source["source_meta"].pop("dms_database")
    with pytest.raises(CatalogError, match=r"no dms_database for source\.cdclake\.ledger\.clients"):
        Catalog.from_manifest(changed)


def test_a_current_state_model_reading_two_sources_is_refused(manifest: dict) -> None:
    changed = copy.deepcopy(manifest)
    model = changed["nodes"]["model.cdclake.current_clients"]
    model["depends_on"]["nodes"].append("source.cdclake.ledger.invoices")
    with pytest.raises(CatalogError, match=r"model\.cdclake\.current_clients must read exactly one DMS source"):
        Catalog.from_manifest(changed)


def test_a_collection_the_project_lacks_is_named(in_order: Dataset) -> None:
    catalog = load_catalog(in_order.paths)
    assert catalog.select(None) == catalog.names()
    assert catalog.select(["invoices", "clients", "invoices"]) == ("invoices", "clients")
    with pytest.raises(CatalogError, match="no collection 'timesheets' in the dbt project: it has "):
        catalog.select(["clients", "timesheets"])


def test_without_a_manifest_the_error_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CDCLAKE_DBT_MANIFEST", raising=False)
    with pytest.raises(CatalogError, match="run `cdclake dbt parse`"):
        load_catalog(Paths(tmp_path))


def test_reconcile_refuses_a_collection_the_project_lacks(in_order: Dataset, monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(in_order.paths.data_dir))
    monkeypatch.setenv("CDCLAKE_SCHEMA", in_order.schema)
    args = ["reconcile", "--quiet", "--snapshot", str(tmp_path), "--state-uri", str(tmp_path / "state")]
    assert main([*args, "--collection", "timesheets"]) == 2
    assert "no collection 'timesheets' in the dbt project" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
