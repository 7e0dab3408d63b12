"""Entry point of the checks job on EMR on EKS (infra/emr/checks-job.json): Great
Expectations, reconciliation against MongoDB secondaries, then the data-quality report,
every result under ``--results-uri`` on S3 (``cdclake checks``).

spark-submit starts the session with the cluster's configuration (Iceberg, Glue Data
Catalog); creating it here first makes cdclake use it instead of its local defaults.
The packed virtual environment (``spark.archives``) provides cdclake and its packages to
the driver and to the executors that run the digest UDF.

A red report (exit 1) is a verdict, not a failed job: the report is on S3 and the DAG's
verdict task fails the run on it. A failed job (exit 2 or 3) is a job that could not
check, which Airflow retries.
"""

import sys

from pyspark.sql import SparkSession

from cdclake.cli import main

if __name__ == "__main__":
    SparkSession.builder.appName("cdclake-checks").getOrCreate()
    code = main(["checks", "--quiet", *sys.argv[1:]])
    sys.exit(0 if code == 1 else code)
