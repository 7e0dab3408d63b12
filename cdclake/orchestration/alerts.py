"""Alerts: a red run (and an amber one, when asked) tells people, through Airflow's
notifiers from the providers: a Slack webhook, an SNS topic, e-mail.

The message is short and carries no value from the data: the status, the report's
one-line reason (counts and check names, never a document), the run and the report's
address. An alert that cannot be delivered never passes quietly: the verdict task logs
it as an error and writes it into the run's report (``report.json``'s ``alerts`` and a
banner on the page), so whoever opens the report sees that nobody may have been told.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .config import PipelineConfig

if TYPE_CHECKING:  # Airflow's notifiers load only where alerts are sent
    from airflow.sdk.bases.notifier import BaseNotifier


class AlertSettingError(ValueError):
    """An alert setting that cannot be used (names the setting)."""


class AlertLevel(StrEnum):
    """The least serious status that alerts."""

    RED = "red"
    AMBER = "amber"  # amber and red


_SEVERITY = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class AlertSettings:
    on: AlertLevel = AlertLevel.RED
    slack_webhook_conn_id: str = ""
    sns_topic_arn: str = ""
    email_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sns_topic_arn and not re.fullmatch(r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+", self.sns_topic_arn):
            raise AlertSettingError(
                f"CDCLAKE_ALERT_SNS_TOPIC_ARN={self.sns_topic_arn!r}: an SNS topic ARN is expected "
                "(arn:aws:sns:<region>:<account>:<topic>)"
            )
        bad = [address for address in self.email_to if not re.fullmatch(r"[^@\s,]+@[^@\s,]+", address)]
        if bad:
            raise AlertSettingError(f"CDCLAKE_ALERT_EMAIL_TO: {', '.join(bad)} is not an e-mail address")

    @classmethod
    def from_config(cls, config: PipelineConfig) -> AlertSettings:
        try:
            level = AlertLevel(config.alert_on.strip().lower())
        except ValueError:
            raise AlertSettingError(f"CDCLAKE_ALERT_ON={config.alert_on!r}: use 'red' or 'amber'") from None
        return cls(
            on=level,
            slack_webhook_conn_id=config.alert_slack_conn_id.strip(),
            sns_topic_arn=config.alert_sns_topic_arn.strip(),
            email_to=tuple(a.strip() for a in config.alert_email_to.split(",") if a.strip()),
        )

    def wants(self, status: str) -> bool:
        return _SEVERITY.get(status, 2) >= _SEVERITY[self.on.value]


@dataclass(frozen=True)
class AlertOutcome:
    channel: str  # slack, sns, email
    target: str  # the connection, topic or number of addresses: never a secret
    delivered: bool
    error: str | None = None


def alert_message(report: dict[str, Any], where: str) -> tuple[str, str]:
    """The subject and text of the alert for ``report`` (report.json), whose page is ``where``."""
    status = report["status"].upper()
    subject = f"cdclake data quality {status}"
    worst = [c["collection"] for c in report.get("collections", []) if c.get("status") == report["status"]]
    lines = [
        f"{subject} (run {report['run_id']})",
        report["reason"],
        *([f"Collections: {', '.join(worst)}"] if worst and report["status"] != "green" else []),
        f"Report: {where}",
    ]
    return subject, "\n".join(lines)


def notifiers(settings: AlertSettings, subject: str, text: str) -> list[tuple[str, str, BaseNotifier]]:
    """(channel, target, notifier) for each configured channel, from the providers."""
    found: list[tuple[str, str, BaseNotifier]] = []
    if settings.slack_webhook_conn_id:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifier = SlackWebhookNotifier(slack_webhook_conn_id=settings.slack_webhook_conn_id, text=text)
        found.append(("slack", f"connection {settings.slack_webhook_conn_id}", notifier))
    if settings.sns_topic_arn:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        region = settings.sns_topic_arn.split(":")[3]
        notifier = SnsNotifier(target_arn=settings.sns_topic_arn, message=text, subject=subject, region_name=region)
        found.append(("sns", settings.sns_topic_arn, notifier))
    if settings.email_to:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(to=list(settings.email_to), subject=subject, html_content=f"<pre>{text}</pre>")
        found.append(("email", f"{len(settings.email_to)} address(es)", notifier))
    return found


def send_alerts(
    report: dict[str, Any], where: str, settings: AlertSettings, log: Callable[[str], None] = print
) -> list[AlertOutcome]:
    """Send the alert for ``report`` on every channel, when its status calls for one."""
    if not settings.wants(report["status"]):
        return []
    return deliver(settings, *alert_message(report, where), log=log)


def deliver(settings: AlertSettings, subject: str, text: str, log: Callable[[str], None] = print) -> list[AlertOutcome]:
    """``text`` on every configured channel, each apart, so that one that fails does not
    stop the others; every outcome logged, a failure as an error."""
    outcomes = []
    for channel, target, notifier in notifiers(settings, subject, text):
        try:
            notifier.notify({})
            outcomes.append(AlertOutcome(channel, target, True))
        except Exception as error:  # any failure of a channel is reported, none is raised
            outcomes.append(AlertOutcome(channel, target, False, _without_addresses(error)))
    for outcome in outcomes:
        if outcome.delivered:
            log(f"alert sent: {outcome.channel} ({outcome.target})")
        else:
            log(f"ERROR: alert NOT delivered: {outcome.channel} ({outcome.target}): {outcome.error}")
    return outcomes


def failure_message(context: Mapping[str, Any]) -> tuple[str, str] | None:
    """The alert for a task that failed for good (after its retries), or None for one whose
    failure the report already tells: a data test, or the verdict itself."""
    ti = context["ti"]
    if ti.task_id == "verdict" or ti.task_id.endswith(".test"):
        return None
    error = context.get("exception")
    why = _without_addresses(error) if isinstance(error, BaseException) else "see its log"
    subject = f"cdclake {ti.dag_id} FAILED"
    text = (
        f"{subject}: task {ti.task_id} failed after its retries (run {context.get('run_id', '?')}): {why}\n"
        "No data-quality report was published by this run: look at the task's log in Airflow."
    )
    return subject, text


def as_dicts(outcomes: list[AlertOutcome]) -> list[dict[str, Any]]:
    return [asdict(outcome) for outcome in outcomes]


def _without_addresses(error: Exception) -> str:
    """The error's first line, any URL in it hidden: a webhook's URL is its secret."""
    first = (str(error).strip().splitlines() or [""])[0][:300]
    hidden = re.sub(r"[a-zA-Z][\w+.-]*://\S+", "<url>", first)
    return f"{type(error).__name__}: {hidden}".rstrip(": ")
