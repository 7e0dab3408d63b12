"""A local stand-in for the AWS Glue APIs dbt-glue calls (infra/glue/dbt-glue-contract.md).

Test infrastructure, not product code. botocore talks to it as to Glue (AWS JSON 1.1 over
HTTP, ``AWS_ENDPOINT_URL_GLUE``). Interactive sessions run their statements as Python in
a local Spark session, each Glue session with a Spark session of its own: its own
temporary views and SQL settings over a shared catalog. A session's globals are ``spark``,
``sc`` and the ``awsglue`` names that dbt-glue's preamble imports. The Data Catalog reads
answer from the same Iceberg catalog the statements write to, so the two never disagree.

What it does not emulate: IAM and Lake Formation (roles are not checked), S3 (the
warehouse is a local folder), session start-up time and workers (a session is READY at
once, its statements one at a time), Glue's own Spark and Iceberg versions, and billing.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import sys
import threading
import traceback
import types
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GLUE_CATALOG = "glue_catalog"  # the name dbt-glue gives Iceberg relations


class GlueError(Exception):
    """An error Glue answers with (``__type`` is its name)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Session:
    id: str
    spark: Any
    created_on: float
    status: str = "READY"
    namespace: dict[str, Any] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    busy: threading.Lock = field(default_factory=threading.Lock)  # one statement at a time


class GlueStandIn:
    """``with GlueStandIn(spark, warehouse) as glue:`` then ``AWS_ENDPOINT_URL_GLUE=glue.url``.

    ``glue.spark`` reads the Glue catalog (``glue_catalog``) as it is now.
    """

    def __init__(self, spark, warehouse: str) -> None:
        Path(warehouse).mkdir(parents=True, exist_ok=True)
        self.warehouse = str(Path(warehouse).absolute())
        self.catalog_conf = {
            f"spark.sql.catalog.{GLUE_CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
            f"spark.sql.catalog.{GLUE_CATALOG}.type": "hadoop",
            # dbt-glue gives every table the location <warehouse>/<database>/<table>, which a
            # Hadoop catalog accepts only as its own path, spelled as Spark qualifies it
            f"spark.sql.catalog.{GLUE_CATALOG}.warehouse": "file:" + self.warehouse,
        }
        # a session of its own: a catalog is set up once per session, and each stand-in has its warehouse
        self.spark = self._with_catalog(spark.newSession())
        # The Data Catalog's answers (and a test reading through this session) must see
        # every session's commits; the sessions themselves cache as their --conf says.
        self.spark.conf.set(f"spark.sql.catalog.{GLUE_CATALOG}.cache-enabled", "false")
        self.sessions: dict[str, Session] = {}
        self.calls: list[str] = []  # every operation, in order: what dbt-glue asked
        self._clock = itertools.count(1)
        _install_awsglue()
        _capture_prints_per_thread()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    def target_environment(self, region: str = "eu-west-1") -> dict[str, str]:
        """The environment of the dbt ``glue`` target (``profiles/profiles.yml``) pointed here."""
        return {
            "AWS_ENDPOINT_URL_GLUE": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "CDCLAKE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/cdclake-glue",
            "CDCLAKE_WAREHOUSE_URI": self.warehouse,
        }

    def client(self, region: str = "eu-west-1"):
        """botocore's own Glue client, pointed here."""
        import boto3

        return boto3.client(
            "glue",
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> GlueStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise GlueError("InvalidInputException", f"the Glue stand-in does not answer {operation}")
        return handler(request)

    # Interactive sessions

    def _CreateSession(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["Id"] in self.sessions:
            raise GlueError("AlreadyExistsException", f"session {request['Id']} exists")
        spark = self._with_catalog(self.spark.newSession())  # its own temporary views, one catalog
        self._apply_session_conf(spark, request.get("DefaultArguments", {}).get("--conf", ""))
        session = Session(request["Id"], spark, float(next(self._clock)))
        session.namespace.update({"spark": spark, "sc": spark.sparkContext, "__name__": "__main__"})
        self.sessions[session.id] = session
        return {"Session": self._describe(session)}

    def _GetSession(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Session": self._describe(self._session(request["Id"]))}

    def _StopSession(self, request: dict[str, Any]) -> dict[str, Any]:
        self._session(request["Id"]).status = "STOPPED"
        return {"Id": request["Id"]}

    def _DeleteSession(self, request: dict[str, Any]) -> dict[str, Any]:
        self.sessions.pop(self._session(request["Id"]).id)
        return {"Id": request["Id"]}

    def _RunStatement(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._session(request["SessionId"])
        if session.status != "READY":
            raise GlueError("IllegalSessionStateException", f"session {session.id} is {session.status}")
        statement_id = len(session.statements)
        session.statements.append({"Id": statement_id, "Code": request["Code"], **self._run(session, request["Code"])})
        return {"Id": statement_id}

    def _GetStatement(self, request: dict[str, Any]) -> dict[str, Any]:
        statements = self._session(request["SessionId"]).statements
        if not 0 <= request["Id"] < len(statements):
            raise GlueError("EntityNotFoundException", f"no statement {request['Id']}")
        return {"Statement": statements[request["Id"]]}

    def _ListStatements(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Statements": self._session(request["SessionId"]).statements}

    def _CancelStatement(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}  # statements finish before RunStatement answers: nothing is ever running

    # Data Catalog: answered from the Iceberg catalog the statements write to

    def _GetDatabases(self, request: dict[str, Any]) -> dict[str, Any]:
        names = [row[0] for row in self.spark.sql(f"show namespaces in {GLUE_CATALOG}").collect()]
        return {"DatabaseList": [{"Name": name, "CatalogId": "000000000000"} for name in names]}

    def _CreateDatabase(self, request: dict[str, Any]) -> dict[str, Any]:
        self.spark.sql(f"create namespace if not exists {GLUE_CATALOG}.`{request['DatabaseInput']['Name']}`")
        return {}

    def _DeleteDatabase(self, request: dict[str, Any]) -> dict[str, Any]:
        self.spark.sql(f"drop namespace if exists {GLUE_CATALOG}.`{request['Name']}` cascade")
        return {}

    def _GetTables(self, request: dict[str, Any]) -> dict[str, Any]:
        database = request["DatabaseName"]
        self._database(database)
        rows = self.spark.sql(f"show tables in {GLUE_CATALOG}.`{database}`").collect()
        return {"TableList": [_iceberg_table(database, row["tableName"]) for row in rows]}

    def _GetTable(self, request: dict[str, Any]) -> dict[str, Any]:
        database, name = request["DatabaseName"], request["Name"]
        self._database(database)
        if not self.spark.catalog.tableExists(f"{GLUE_CATALOG}.`{database}`.`{name}`"):
            raise GlueError("EntityNotFoundException", f"Table {name} not found.")
        return {"Table": _iceberg_table(database, name)}

    # Helpers

    def _with_catalog(self, spark):
        for key, value in self.catalog_conf.items():
            spark.conf.set(key, value)  # runtime settings are per Spark session
        return spark

    def _apply_session_conf(self, spark, conf: str) -> None:
        """Set the runtime SQL settings of the session's ``--conf``, as Glue does.

        The catalog's implementation, file IO and warehouse (Glue, S3) are not applied: the
        stand-in's Hadoop catalog takes their place. Static settings (extensions) are
        already those of the local session.
        """
        replaced = {
            f"spark.sql.catalog.{GLUE_CATALOG}{suffix}" for suffix in ("", ".catalog-impl", ".io-impl", ".warehouse")
        }
        for setting in conf.replace("--conf ", "\n").splitlines():
            key, _, value = setting.strip().partition("=")
            if key and key not in replaced and spark.conf.isModifiable(key):
                spark.conf.set(key, value.strip())

    def _session(self, session_id: str) -> Session:
        if session_id not in self.sessions:
            raise GlueError("EntityNotFoundException", f"Session {session_id} not found.")
        return self.sessions[session_id]

    def _database(self, name: str) -> None:
        if name not in {d["Name"] for d in self._GetDatabases({})["DatabaseList"]}:
            raise GlueError("EntityNotFoundException", f"Database {name} not found.")

    def _describe(self, session: Session) -> dict[str, Any]:
        return {"Id": session.id, "Status": session.status, "CreatedOn": session.created_on}

    def _run(self, session: Session, code: str) -> dict[str, Any]:
        """Run ``code`` in the session's globals; its printed output is the statement's result."""
        printed = io.StringIO()
        with session.busy, _printing_to(printed):
            try:
                exec(compile(code, f"<statement {len(session.statements)}>", "exec"), session.namespace)
            except Exception as error:
                failed = {
                    "Status": "error",
                    "ErrorName": type(error).__name__,
                    "ErrorValue": str(error),
                    "Traceback": traceback.format_exception(error),
                }
                return {"State": "AVAILABLE", "Output": failed}
        return {"State": "AVAILABLE", "Output": {"Status": "ok", "Data": {"TextPlain": printed.getvalue()}}}


def _iceberg_table(database: str, name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "DatabaseName": database,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"table_type": "ICEBERG"},
    }


class _PerThreadStdout(io.TextIOBase):
    """sys.stdout that a statement's thread can point at its own buffer, so that output of
    other threads (dbt's log, pytest) never lands in a statement's result."""

    def __init__(self, default) -> None:
        self.default = default
        self.local = threading.local()

    def write(self, text: str) -> int:
        return (getattr(self.local, "target", None) or self.default).write(text)

    def flush(self) -> None:
        (getattr(self.local, "target", None) or self.default).flush()


def _capture_prints_per_thread() -> None:
    if not isinstance(sys.stdout, _PerThreadStdout):
        sys.stdout = _PerThreadStdout(sys.stdout)


@contextlib.contextmanager
def _printing_to(buffer: io.StringIO):
    stdout = sys.stdout
    if not isinstance(stdout, _PerThreadStdout):  # replaced since (pytest's capture): wrap again
        _capture_prints_per_thread()
        stdout = sys.stdout
    stdout.local.target = buffer
    try:
        yield
    finally:
        stdout.local.target = None


def _install_awsglue() -> None:
    """The ``awsglue`` names dbt-glue's statements import, over plain PySpark."""
    if "awsglue" in sys.modules:
        return

    def get_resolved_options(argv: list[str], options: list[str]) -> dict[str, str]:
        found = {}
        for name in options:
            flag = f"--{name}"
            if flag in argv and argv.index(flag) + 1 < len(argv):
                found[name] = argv[argv.index(flag) + 1]
        return found

    class GlueContext:
        def __init__(self, spark_context) -> None:
            from pyspark.sql import SparkSession

            self.spark_session = SparkSession.builder.getOrCreate()

    package = types.ModuleType("awsglue")
    modules = {
        "awsglue.utils": {"getResolvedOptions": get_resolved_options},
        "awsglue.context": {"GlueContext": GlueContext},
        "awsglue.job": {"Job": type("Job", (), {"__init__": lambda self, context: None})},
        "awsglue.dynamicframe": {"DynamicFrame": type("DynamicFrame", (), {})},
    }
    sys.modules["awsglue"] = package
    for name, members in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(members)
        sys.modules[name] = module
        setattr(package, name.rpartition(".")[2], module)


def _handler(glue: GlueStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # AWS JSON 1.1: the operation is in X-Amz-Target
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            try:
                status, body = 200, glue.answer(operation, request)
            except GlueError as error:
                status, body = 400, {"__type": error.kind, "message": str(error)}
            except Exception as error:  # a fault of the stand-in: say so, as Glue would a 500
                status, body = 500, {"__type": "InternalServiceException", "message": repr(error)}
            payload = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
