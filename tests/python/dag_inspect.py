"""Run as a script: parse the DAG folder with guards that fail on any top-level work
(network, subprocess, Spark, AWS clients, Airflow Variables), then print the DAGs'
tasks and edges as JSON. A separate process, because importing Airflow configures it
from AIRFLOW_HOME for the life of the process."""

import json
import socket
import subprocess
import sys


def forbid(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"the DAG file does {what} while being parsed")

    return refuse


socket.socket.connect = forbid("network I/O")
subprocess.Popen.__init__ = forbid("a subprocess")

import boto3  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

boto3.client = boto3.resource = forbid("an AWS call")
SparkSession.builder.getOrCreate = forbid("Spark work")

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk import Variable  # noqa: E402

Variable.get = forbid("a Variable lookup")

bag = DagBag(dag_folder=sys.argv[1])
print(
    json.dumps(
        {
            "errors": {path: str(error) for path, error in bag.import_errors.items()},
            "dags": {
                dag_id: {
                    "max_active_runs": dag.max_active_runs,
                    "catchup": dag.catchup,
                    "schedule": str(dag.schedule),
                    "edges": {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks},
                    "retries": {task.task_id: task.retries for task in dag.tasks},
                    "failure_alerts": {
                        task.task_id: [type(c).__name__ for c in (task.on_failure_callback or [])] for task in dag.tasks
                    },
                    "trigger_rules": {
                        task.task_id: str(getattr(task.trigger_rule, "value", task.trigger_rule)) for task in dag.tasks
                    },
                    "timeouts": {
                        task.task_id: task.execution_timeout.total_seconds() if task.execution_timeout else None
                        for task in dag.tasks
                    },
                }
                for dag_id, dag in bag.dags.items()
            },
        }
    )
)
