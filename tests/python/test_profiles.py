"""Every dbt target parses (local, dev, Glue and its dev twin, EMR), with settings from the environment."""

from __future__ import annotations

import pytest
import yaml

from cdclake.settings import Paths

from repo import REPO

CLOUD_ENV = {
    "CDCLAKE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-glue",
    "AWS_REGION": "eu-west-1",
    "CDCLAKE_WAREHOUSE_URI": "s3://example-warehouse/iceberg",
    "CDCLAKE_EMR_THRIFT_HOST": "emr-master.example.internal",
    "CDCLAKE_LANDING_ROOT": "s3://example-landing/dms",
}


TARGETS = list(yaml.safe_load((REPO / "profiles" / "profiles.yml").read_text())["cdclake"]["outputs"])


@pytest.mark.parametrize("target", TARGETS)
def test_dbt_parse_succeeds(target: str, workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdclake.dbt_runner import run_dbt

    for name, value in CLOUD_ENV.items():
        monkeypatch.setenv(name, value)
    outcome = run_dbt(["parse", "--target", target], Paths(workspace / f"parse-{target}"))
    assert outcome.success, outcome.error


def test_profiles_hold_no_secrets() -> None:
    text = (REPO / "profiles" / "profiles.yml").read_text().lower()
    for word in ("password:", "aws_secret_access_key", "token:", "secret:"):
        assert word not in text
