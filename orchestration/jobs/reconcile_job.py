"""Entry point of the reconciliation job on EMR on EKS (infra/emr/reconcile-job.json).

spark-submit starts the session with the cluster's configuration (Iceberg, Glue Data
Catalog); creating it here first makes cdclake use it instead of its local defaults.
The packed virtual environment (``spark.archives``) provides cdclake and its packages to
the driver and to the executors that run the digest UDF.

Confirmed discrepancies (exit 1) are a verdict, not a failed job: the result is in the
state location and the DAG's publish task fails the run on it. A failed job (exit 2 or
3) is a job that could not reconcile, which Airflow retries.
"""

import sys

from pyspark.sql import SparkSession

from cdclake.cli import main

if __name__ == "__main__":
    SparkSession.builder.appName("cdclake-reconcile").getOrCreate()
    code = main(["reconcile", "--quiet", *sys.argv[1:]])
    sys.exit(0 if code == 1 else code)
