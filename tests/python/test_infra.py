"""The DMS settings under infra/ agree with what the models (through the catalog the dbt
manifest gives) and the simulator expect."""

from __future__ import annotations

import json

import pytest

from cdclake.catalog import Catalog, load_catalog
from cdclake.demo.dms import EndpointSettings

from repo import REPO

DMS = REPO / "infra" / "dms"


@pytest.fixture(scope="module")
def catalog(in_order) -> Catalog:
    return load_catalog(in_order.paths)


def test_target_endpoint_matches_the_dbt_vars_and_the_simulator(catalog: Catalog) -> None:
    s3 = json.loads((DMS / "target-endpoint.json").read_text())["S3Settings"]
    simulator = EndpointSettings()
    assert s3["DataFormat"] == "parquet"
    assert {c.timestamp_column for c in catalog} == {s3["TimestampColumnName"]} == {simulator.timestamp_column}
    assert s3["IncludeOpForFullLoad"] == simulator.include_op_for_full_load
    assert s3["DatePartitionEnabled"] == simulator.date_folders
    assert s3["UseTaskStartTimeForFullLoadTimestamp"] is True
    assert s3["CdcInsertsOnly"] is False and s3["CdcInsertsAndUpdates"] is False  # deletes must land


def test_source_endpoint_is_document_mode_with_the_key_extracted(catalog: Catalog) -> None:
    mongo = json.loads((DMS / "source-endpoint.json").read_text())["MongoDbSettings"]
    assert mongo["NestingLevel"] == "none"
    assert mongo["ExtractDocId"] == "true" and {c.key_column for c in catalog} == {"_id"}
    assert mongo["UseUpdateLookUp"] is True
    assert {c.database for c in catalog} == {mongo["DatabaseName"]} == {EndpointSettings().database}
    assert "Password" not in mongo and "SecretsManagerSecretId" in mongo


def test_the_checks_job_gives_its_executors_the_secrets_name_never_a_uri() -> None:
    # full reconciliation reads MongoDB in Spark tasks: each executor reads the secret
    # with the job's role; the connection string itself is in no setting.
    spec = json.loads((REPO / "infra" / "emr" / "checks-job.json").read_text())
    parameters = spec["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"].split()
    for prefix in ("spark.kubernetes.driverEnv.", "spark.executorEnv."):
        assert f"{prefix}CDCLAKE_MONGO_URI_SECRET=${{MONGO_URI_SECRET}}" in parameters
        assert f"{prefix}AWS_REGION=${{REGION}}" in parameters
    assert not any("CDCLAKE_MONGO_URI=" in parameter or "mongodb://" in parameter for parameter in parameters)
