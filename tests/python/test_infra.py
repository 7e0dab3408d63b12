"""The DMS settings under infra/ agree with what the models and the simulator expect."""

from __future__ import annotations

import json

import yaml

from cdclake.generator.dms import EndpointSettings
from cdclake.settings import PROJECT_DIR

DMS = PROJECT_DIR / "infra" / "dms"


def test_target_endpoint_matches_the_dbt_vars_and_the_simulator() -> None:
    s3 = json.loads((DMS / "target-endpoint.json").read_text())["S3Settings"]
    dbt_vars = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    simulator = EndpointSettings()
    assert s3["DataFormat"] == "parquet"
    assert s3["TimestampColumnName"] == dbt_vars["dms_timestamp_column"] == simulator.timestamp_column
    assert s3["IncludeOpForFullLoad"] == simulator.include_op_for_full_load
    assert s3["DatePartitionEnabled"] == simulator.date_folders
    assert s3["UseTaskStartTimeForFullLoadTimestamp"] is True
    assert s3["CdcInsertsOnly"] is False and s3["CdcInsertsAndUpdates"] is False  # deletes must land


def test_source_endpoint_is_document_mode_with_the_key_extracted() -> None:
    mongo = json.loads((DMS / "source-endpoint.json").read_text())["MongoDbSettings"]
    dbt_vars = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert mongo["NestingLevel"] == "none"
    assert mongo["ExtractDocId"] == "true" and dbt_vars["dms_key_column"] == "_id"
    assert mongo["UseUpdateLookUp"] is True
    assert mongo["DatabaseName"] == EndpointSettings().database
    assert "Password" not in mongo and "SecretsManagerSecretId" in mongo
