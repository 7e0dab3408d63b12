"""What the Airflow DAG (orchestration/dags/) runs: settings, the new-files check, and the
task callables. Kept out of the DAG file so that parsing the DAG does no work."""
