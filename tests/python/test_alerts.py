"""Alerts through Airflow's notifiers: a Slack webhook (a local HTTP receiver stands in for
Slack), an SNS topic (moto) and e-mail (a local SMTP receiver), sent by the verdict task
and written into the report.
Fast: no Spark, no dbt."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from test_report import facts, quality, reconciliation

from cdclake.checks import ResultLocations
from cdclake.orchestration.alerts import AlertLevel, AlertSettingError, AlertSettings, alert_message, send_alerts
from cdclake.orchestration.config import PipelineConfig
from cdclake.report.publish import make_report
from cdclake.storage import LocalStore

from conftest import AWS_REGION

REGION = AWS_REGION
WEBHOOK_SECRET = "T000/B000/xoxb-not-a-real-secret"


class Receiver:
    """A Slack webhook stand-in: records each POST, answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_token")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def env(aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """moto's AWS (conftest.py) and the local data directory the verdict reads reports from."""
    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def slack(monkeypatch: pytest.MonkeyPatch, receiver: Receiver | None, url: str | None = None) -> None:
    webhook = url or receiver.url
    monkeypatch.setenv("AIRFLOW_CONN_CDCLAKE_SLACK", json.dumps({"conn_type": "slackwebhook", "password": webhook}))


def topic(name: str = "cdclake-alerts") -> str:
    return boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"]


def sns_messages(arn: str) -> list[tuple]:
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[arn].sent_notifications


def publish(data_dir: Path, confirmed: int, run_id: str) -> LocalStore:
    store = LocalStore(Path(ResultLocations(str(data_dir)).reports))
    make_report(reconciliation(confirmed, 0), quality(failing=False), facts(10), store, run_id=run_id)
    return store


def test_a_red_run_alerts_slack_and_sns_and_its_report_says_so(env: Path, monkeypatch, capsys) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from cdclake.orchestration.tasks import verdict

    receiver, arn = Receiver(), topic()
    slack(monkeypatch, receiver)
    store = publish(env, confirmed=2, run_id="red-run")
    config = PipelineConfig(alert_slack_conn_id="cdclake_slack", alert_sns_topic_arn=arn)
    with pytest.raises(AirflowFailException, match="RED: 2 confirmed difference"):
        verdict(config)

    (body,) = receiver.bodies
    assert body["text"].startswith("cdclake data quality RED (run red-run)")
    assert "2 confirmed difference(s)" in body["text"] and "runs/red-run/report.html" in body["text"]
    ((_, message, subject, *_),) = sns_messages(arn)
    # the notifier sends one message for every protocol (MessageStructure json)
    assert (subject, json.loads(message)) == ("cdclake data quality RED", {"default": body["text"]})
    report = json.loads(store.read("runs/red-run/report.json"))
    assert [(a["channel"], a["delivered"]) for a in report["alerts"]] == [("slack", True), ("sns", True)]
    assert json.loads(store.read("latest/report.json"))["alerts"] == report["alerts"]
    page = store.read("runs/red-run/report.html")
    assert "slack (connection cdclake_slack): alert sent" in page and f"sns ({arn}): alert sent" in page
    everything = capsys.readouterr().out + json.dumps(report) + page
    assert WEBHOOK_SECRET not in everything  # the webhook's URL is its secret


def test_an_alert_that_cannot_be_delivered_is_logged_and_shown_and_the_others_still_go(
    env: Path, monkeypatch, capsys
) -> None:
    from cdclake.orchestration.tasks import verdict

    refusing = Receiver(status=500)
    slack(monkeypatch, refusing)
    missing_topic = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:nobody-made-this-topic"
    store = publish(env, confirmed=0, run_id="amber-run")
    # an amber run (a difference in flight) alerts when asked to
    report = json.loads(store.read("latest/report.json"))
    report["status"], report["reason"] = "amber", "1 difference in flight"
    store.write("latest/report.json", json.dumps(report))
    store.write("runs/amber-run/report.json", json.dumps(report))

    config = PipelineConfig(alert_on="amber", alert_slack_conn_id="cdclake_slack", alert_sns_topic_arn=missing_topic)
    assert verdict(config).endswith("runs/amber-run/report.html")  # amber: the run goes on, loudly
    out = capsys.readouterr().out
    assert "ERROR: alert NOT delivered: slack (connection cdclake_slack)" in out
    assert f"ERROR: alert NOT delivered: sns ({missing_topic})" in out
    alerts = json.loads(store.read("runs/amber-run/report.json"))["alerts"]
    assert [(a["channel"], a["delivered"]) for a in alerts] == [("slack", False), ("sns", False)]
    assert all(a["error"] for a in alerts) and len(refusing.bodies) == 1
    page = store.read("runs/amber-run/report.html")
    assert "2 alert(s) could not be delivered" in page and "NOT delivered" in page
    assert WEBHOOK_SECRET not in out + page + json.dumps(alerts)

    # one channel down does not keep the other from delivering
    working = Receiver()
    slack(monkeypatch, working)
    both = AlertSettings(AlertLevel.AMBER, "cdclake_slack", missing_topic)
    outcomes = send_alerts(report, "https://reports/x.html", both, log=lambda _: None)
    assert [o.delivered for o in outcomes] == [True, False] and len(working.bodies) == 1
    unreachable = Receiver()
    unreachable.server.server_close()  # nothing listens there any more
    slack(monkeypatch, None, url=unreachable.url)
    (outcome,) = send_alerts(report, "x", AlertSettings(AlertLevel.AMBER, "cdclake_slack"), log=lambda _: None)
    assert not outcome.delivered and WEBHOOK_SECRET not in outcome.error


@pytest.mark.parametrize(
    ("status", "level", "alerts"),
    [
        ("red", AlertLevel.RED, True),
        ("amber", AlertLevel.RED, False),
        ("green", AlertLevel.RED, False),
        ("red", AlertLevel.AMBER, True),
        ("amber", AlertLevel.AMBER, True),
        ("green", AlertLevel.AMBER, False),
    ],
)
def test_which_runs_alert(status: str, level: AlertLevel, alerts: bool, env: Path, monkeypatch) -> None:
    receiver = Receiver()
    slack(monkeypatch, receiver)
    report = {"status": status, "reason": "why", "run_id": "r", "collections": []}
    outcomes = send_alerts(report, "x", AlertSettings(level, "cdclake_slack"), log=lambda _: None)
    assert (len(outcomes), len(receiver.bodies)) == ((1, 1) if alerts else (0, 0))


def test_no_value_from_the_data_reaches_an_alert(env: Path) -> None:
    store = publish(env, confirmed=3, run_id="leaky")
    report = json.loads(store.read("runs/leaky/report.json"))
    values = ("paid", "void")  # the documents' values in the report's differences
    assert all(value in json.dumps(report) for value in values)
    subject, text = alert_message(report, "https://reports/runs/leaky/report.html")
    assert not any(value in subject + text for value in values)
    assert "invoices" in text and "3 confirmed difference(s)" in text


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"alert_on": "sometimes"}, "CDCLAKE_ALERT_ON='sometimes'"),
        ({"alert_sns_topic_arn": "cdclake-alerts"}, "CDCLAKE_ALERT_SNS_TOPIC_ARN='cdclake-alerts'"),
        ({"alert_email_to": "ops@firm.example, not-an-address"}, "CDCLAKE_ALERT_EMAIL_TO: not-an-address"),
    ],
)
def test_an_unusable_alert_setting_names_itself(settings: dict, problem: str) -> None:
    with pytest.raises(AlertSettingError) as raised:
        AlertSettings.from_config(PipelineConfig(**settings))
    assert str(raised.value).startswith(problem)
    email = AlertSettings.from_config(PipelineConfig(alert_email_to="ops@firm.example, cfo@firm.example"))
    assert email.email_to == ("ops@firm.example", "cfo@firm.example")


class FakeTaskInstance:
    def __init__(self, task_id: str) -> None:
        self.task_id, self.dag_id = task_id, "cdclake_pipeline"


@pytest.mark.parametrize(
    ("task_id", "alerts"),
    [("checks", True), ("dbt.current_invoices.run", True), ("verdict", False), ("dbt.current_invoices.test", False)],
)
def test_a_task_that_fails_for_good_alerts_unless_the_report_says_it(task_id, alerts, env, monkeypatch) -> None:
    from cdclake.orchestration.notify import TaskFailureAlert

    receiver = Receiver()
    slack(monkeypatch, receiver)
    notifier = TaskFailureAlert(PipelineConfig(alert_slack_conn_id="cdclake_slack"))
    crash = RuntimeError(f"cannot reach {receiver.url}")  # an error that quotes a secret URL
    notifier.notify({"ti": FakeTaskInstance(task_id), "run_id": "scheduled__2026", "exception": crash})
    assert len(receiver.bodies) == (1 if alerts else 0)
    if alerts:
        text = receiver.bodies[0]["text"]
        assert text.startswith(f"cdclake cdclake_pipeline FAILED: task {task_id} failed after its retries")
        assert "RuntimeError: cannot reach <url>" in text and WEBHOOK_SECRET not in text


class MailReceiver:
    """Just enough of an SMTP server to take one message (no TLS, no login)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 receiver ready\r\n")
                while line := self.rfile.readline().decode():
                    verb = line[:4].upper()
                    if verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    if verb == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        lines = iter(self.rfile.readline, b".\r\n")
                        receiver.messages.append(b"".join(lines).decode())
                    self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_the_email_channel_sends_the_same_message(env: Path, monkeypatch) -> None:
    mail = MailReceiver()
    extra = {"disable_ssl": True, "disable_tls": True, "from_email": "cdclake@firm.example"}
    connection = {"conn_type": "smtp", "host": "127.0.0.1", "port": mail.port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    report = {"status": "red", "reason": "2 confirmed difference(s)", "run_id": "r", "collections": []}
    settings = AlertSettings(AlertLevel.RED, email_to=("ops@firm.example",))
    (outcome,) = send_alerts(report, "https://reports/runs/r/report.html", settings, log=lambda _: None)
    assert outcome.delivered, outcome.error
    (message,) = [email.message_from_string(text) for text in mail.messages]
    assert (message["Subject"], message["To"]) == ("cdclake data quality RED", "ops@firm.example")
    (body,) = [part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()]
    assert "2 confirmed difference(s)" in body and "https://reports/runs/r/report.html" in body
