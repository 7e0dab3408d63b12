"""Entry point of the reconciliation job on EMR on EKS (infra/emr/reconcile-job.json).

spark-submit starts the session with the cluster's configuration (Iceberg, Glue Data
Catalog); creating it here first makes cdclake use it instead of its local defaults.
The packed virtual environment (``spark.archives``) provides cdclake and its packages to
the driver and to the executors that run the digest UDF.
"""

import sys

from pyspark.sql import SparkSession

from cdclake.cli import main

if __name__ == "__main__":
    SparkSession.builder.appName("cdclake-reconcile").getOrCreate()
    sys.exit(main(["reconcile", "--quiet", *sys.argv[1:]]))
