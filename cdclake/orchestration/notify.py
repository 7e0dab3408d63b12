"""The DAGs' failure callback: a task that fails for good tells the alert channels.

An Airflow notifier (``on_failure_callback``) around alerts.deliver: a crashed checks
task or a timed-out sensor publishes no report, so the verdict never runs to alert; this
does. Imported by the DAG files only (it needs Airflow).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from .alerts import AlertSettings, deliver, failure_message
from .config import PipelineConfig


class TaskFailureAlert(BaseNotifier):
    """Alerts on a task's final failure, except where the report already says it."""

    def __init__(self, config: PipelineConfig) -> None:
        super().__init__()
        self.settings = AlertSettings.from_config(config)

    def notify(self, context: Any) -> None:
        message = failure_message(context)
        if message is not None:
            deliver(self.settings, *message, log=self._log_line)

    def _log_line(self, line: str) -> None:
        (self.log.error if line.startswith("ERROR") else self.log.info)(line)
