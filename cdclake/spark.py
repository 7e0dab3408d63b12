"""The local Spark session: Spark 3.5 with an Iceberg Hadoop catalog as default catalog.

This is the one place the local Spark configuration is written down. dbt's ``local``
target (``method: session``) picks up the session created here, so the CLI, the tests
and the benchmarks all run dbt against the same catalog.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from functools import lru_cache
from pathlib import Path

from pyspark.sql import SparkSession

from .settings import Paths

CATALOG = "lake"
_ICEBERG_PACKAGE = "snowpark_connect_deps_iceberg"


@lru_cache(maxsize=1)
def iceberg_runtime_jar() -> Path:
    """The Iceberg Spark runtime shipped by a PyPI package (no download at run time)."""
    import importlib.util

    spec = importlib.util.find_spec(_ICEBERG_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the Python package '{_ICEBERG_PACKAGE}' is not installed: run `make setup`")
    jars = sorted(Path(spec.submodule_search_locations[0], "jars").glob("iceberg-spark-runtime-3.5_2.12-*.jar"))
    if not jars:
        raise RuntimeError(f"no iceberg-spark-runtime-3.5_2.12 jar in {_ICEBERG_PACKAGE}; reinstall it (==1.0.2)")
    return jars[-1]


def local_spark_conf(paths: Paths) -> dict[str, str]:
    spark_dir = paths.spark_dir
    return {
        "spark.master": os.environ.get("CDCLAKE_SPARK_MASTER", "local[2]"),
        "spark.app.name": "cdclake",
        "spark.driver.memory": os.environ.get("CDCLAKE_SPARK_DRIVER_MEMORY", "4g"),
        "spark.jars": str(iceberg_runtime_jar()),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        f"spark.sql.catalog.{CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
        f"spark.sql.catalog.{CATALOG}.type": "hadoop",
        f"spark.sql.catalog.{CATALOG}.warehouse": str(paths.warehouse),
        "spark.sql.defaultCatalog": CATALOG,
        # No Hive metastore: the Iceberg catalog holds every table, so nothing else to lock.
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(spark_dir / "spark-warehouse"),
        "spark.local.dir": str(spark_dir / "tmp"),
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={spark_dir / 'derby'} -Djava.io.tmpdir={spark_dir / 'tmp'}"
        ),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("CDCLAKE_SHUFFLE_PARTITIONS", "8"),
        # Spark keeps 100 compiled query classes by default; an apply's four models need more,
        # so each batch compiled ~55 classes again and the JIT then compiled them anew
        # (bench/README.md, 2026-12-05: 8 compilations a batch instead, JVM CPU -7 %).
        "spark.sql.codegen.cache.maxEntries": "2000",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def get_or_create_session(paths: Paths | None = None) -> SparkSession:
    """The process's Spark session, created on first use with the local configuration."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    paths = paths or Paths.from_env()
    for folder in (paths.warehouse, paths.spark_dir / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    # Python UDFs (the reconciliation's document digests) must run in this venv too.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in local_spark_conf(paths).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A timestamp Spark collected: the session's time zone (UTC here), without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
