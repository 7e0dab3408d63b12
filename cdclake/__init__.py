"""cdclake: MongoDB → DMS CDC Parquet → dbt on Spark → Iceberg current state, checked.

The dbt project (``models/``, ``macros/``) turns the change stream into tables; this
package holds everything that is not dbt: the local source simulator, the Spark session,
the command line, and (later) reconciliation and reports.
"""

__version__ = "0.1.0"
