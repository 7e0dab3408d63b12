"""Shared fixtures: one Spark session per test run, one dbt build per fixture dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from bson.json_util import JSONOptions

from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.documents import COLLECTIONS
from cdclake.demo.simulator import InjectedFault, Simulator
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

JSON_OPTIONS = JSONOptions(tz_aware=True)
SEED = 11
DOCUMENTS = 1_500
EVENTS_PER_BATCH = 400
BATCHES = 3


AWS_REGION = "eu-central-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """AWS as moto fakes it, with an Airflow home of the test's own and its aws_default."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cdclake")
    os.environ["CDCLAKE_DATA_DIR"] = str(root / "shared")
    os.environ.pop("CDCLAKE_LANDING_ROOT", None)
    os.environ.pop("CDCLAKE_TARGET", None)
    return root


@pytest.fixture(scope="session")
def spark(workspace: Path):
    from cdclake.spark import get_or_create_session

    session = get_or_create_session(Paths(workspace / "shared"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def glue_stand_in(spark, workspace: Path):
    """One Glue stand-in per test run: dbt-glue keeps its Glue client (and the endpoint it
    was made for) per thread for the life of the process."""
    from glue_standin import GlueStandIn

    with GlueStandIn(spark, str(workspace / "glue-warehouse")) as stand_in:
        yield stand_in


@dataclass
class Dataset:
    """A landing folder, its simulated source, and the schema dbt builds it into."""

    paths: Paths
    schema: str
    simulator: Simulator | None
    build_outcome: Any = None  # the fixture's dbt build, where it runs one
    faults: list[InjectedFault] = field(default_factory=list)

    def dbt(self, *args: str):
        from cdclake.dbt_runner import run_dbt

        outcome = run_dbt(list(args), self.paths, schema=self.schema)
        assert outcome.success, f"dbt {' '.join(args)} failed: {outcome.error or outcome.statuses}"
        return outcome

    def current_documents(self, spark, collection: str) -> dict[str, dict]:
        rows = spark.sql(f"select _id, document from {self.schema}.current_{collection} where not is_deleted")
        return {row["_id"]: json_util.loads(row["document"], json_options=JSON_OPTIONS) for row in rows.collect()}

    def source_documents(self, collection: str) -> dict[str, dict]:
        return {key_json(doc["_id"]): doc for doc in self.simulator.live_documents(collection)}


def new_dataset(workspace: Path, name: str, settings: EndpointSettings = EndpointSettings()) -> Dataset:
    paths = Paths(workspace / name)
    simulator = Simulator(paths.simulator_state, SEED, settings, rows_per_file=250)
    simulator.full_load(DOCUMENTS, paths.landing)
    return Dataset(paths, name, simulator)


@pytest.fixture(scope="session")
def in_order(workspace: Path, spark) -> Iterator[Dataset]:
    """Every batch landed in order, then one dbt build."""
    dataset = new_dataset(workspace, "in_order")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    for _ in range(BATCHES):
        delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox), chaotic=False)
    dataset.build_outcome = dataset.dbt("build")
    yield dataset


@pytest.fixture(scope="session")
def chaotic(workspace: Path, spark) -> Iterator[Dataset]:
    """The same events, delivered late and twice, with the current state applied between deliveries."""
    dataset = new_dataset(workspace, "chaotic")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    dataset.dbt("run", "--select", "current_state")
    for _ in range(BATCHES):
        delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox), chaotic=True)
        dataset.dbt("run", "--select", "current_state")
    delivery.flush()
    dataset.build_outcome = dataset.dbt("build")
    yield dataset


@pytest.fixture(scope="session")
def variant(workspace: Path, spark) -> Iterator[Dataset]:
    """Other endpoint settings: oid_id key column, relaxed JSON without _id, Op on full load, no date folders."""
    settings = EndpointSettings(
        key_column="oid_id", ejson="relaxed", doc_includes_id=False, include_op_for_full_load=True, date_folders=False
    )
    dataset = new_dataset(workspace, "variant", settings)
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    for _ in range(BATCHES):
        delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox), chaotic=False)
    dataset.dbt("run", "--vars", "{dms_key_column: oid_id}")
    yield dataset


@pytest.fixture(scope="session")
def faulty(workspace: Path, spark) -> Iterator[Dataset]:
    """Batches applied in order, then a batch of injected faults applied, and a mongodump
    snapshot of the source: reconciliation must find exactly ``faults``."""
    dataset = new_dataset(workspace, "faulty")
    delivery = Delivery(dataset.paths.outbox, dataset.paths.landing)
    for _ in range(2):
        delivery.land_batch(dataset.simulator.cdc_batch(EVENTS_PER_BATCH, dataset.paths.outbox), chaotic=False)
    dataset.dbt("run", "--select", "current_state")
    files, dataset.faults = dataset.simulator.inject_faults(dataset.paths.outbox)
    delivery.land(files)
    dataset.dbt("run", "--select", "current_state")
    dataset.simulator.write_snapshot(dataset.paths.snapshot)
    yield dataset


COLLECTION_PARAMS = pytest.mark.parametrize("collection", COLLECTIONS)
