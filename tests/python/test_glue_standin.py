"""The Glue stand-in answers as Glue does, through botocore's own Glue client: sessions,
statements run as Python in a Spark session of their own, and a Data Catalog that is the
Iceberg catalog the statements write to. Then dbt-glue itself connects through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from glue_standin import GLUE_CATALOG, GlueStandIn

REGION = "eu-west-1"


@pytest.fixture
def glue(glue_stand_in: GlueStandIn):
    return glue_stand_in.client(REGION)


def run(glue, session_id: str, code: str) -> dict:
    statement = glue.run_statement(SessionId=session_id, Code=code)["Id"]
    return glue.get_statement(SessionId=session_id, Id=statement)["Statement"]


def new_session(glue, name: str) -> str:
    glue.create_session(Id=name, Role="arn:aws:iam::123456789012:role/glue", Command={"Name": "glueetl"})
    assert glue.get_session(Id=name)["Session"]["Status"] == "READY"
    return name


def test_a_statement_runs_as_python_in_its_session_and_prints_its_result(glue) -> None:
    session = new_session(glue, "printing")
    assert run(glue, session, "import json\nrows = spark.sql('select 1 as one').collect()")["Output"]["Status"] == "ok"
    done = run(glue, session, "print(json.dumps([row.asDict() for row in rows]))")  # globals persist
    assert done["State"] == "AVAILABLE"
    assert json.loads(done["Output"]["Data"]["TextPlain"]) == [{"one": 1}]


def test_a_failing_statement_says_what_failed(glue) -> None:
    session = new_session(glue, "failing")
    done = run(glue, session, "spark.sql('select * from no_such_table')")
    assert done["State"] == "AVAILABLE" and done["Output"]["Status"] == "error"
    assert done["Output"]["ErrorName"] == "AnalysisException"
    assert "no_such_table" in done["Output"]["ErrorValue"] and done["Output"]["Traceback"]


def test_each_session_has_its_own_temporary_views(glue) -> None:
    first, second = new_session(glue, "views-1"), new_session(glue, "views-2")
    run(glue, first, "spark.sql('create temporary view only_here as select 1 as x')")
    probe = "print(spark.catalog.tableExists('only_here'))"
    assert run(glue, first, probe)["Output"]["Data"]["TextPlain"] == "True\n"
    assert run(glue, second, probe)["Output"]["Data"]["TextPlain"] == "False\n"


def test_the_data_catalog_is_the_catalog_the_statements_write_to(glue) -> None:
    session = new_session(glue, "catalog")
    done = run(
        glue,
        session,
        f"spark.sql('create namespace if not exists {GLUE_CATALOG}.finance')\n"
        f"spark.sql('create table {GLUE_CATALOG}.finance.ledger (id bigint) using iceberg')",
    )
    assert done["Output"]["Status"] == "ok", done["Output"]
    assert "finance" in {db["Name"] for db in glue.get_databases()["DatabaseList"]}
    (table,) = glue.get_tables(DatabaseName="finance")["TableList"]
    assert (table["Name"], table["TableType"], table["Parameters"]["table_type"]) == (
        "ledger",
        "EXTERNAL_TABLE",
        "ICEBERG",
    )
    assert glue.get_table(DatabaseName="finance", Name="ledger")["Table"]["Name"] == "ledger"
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        glue.get_table(DatabaseName="finance", Name="journal")


def test_a_stopped_and_deleted_session_is_gone(glue) -> None:
    session = new_session(glue, "short-lived")
    glue.stop_session(Id=session)
    assert glue.get_session(Id=session)["Session"]["Status"] == "STOPPED"
    with pytest.raises(ClientError, match="IllegalSessionStateException"):
        glue.run_statement(SessionId=session, Code="print(1)")
    glue.delete_session(Id=session)
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        glue.get_session(Id=session)


@pytest.fixture
def glue_target(glue_stand_in: GlueStandIn, workspace: Path, monkeypatch) -> Path:
    """The environment of the glue target, pointed at the stand-in."""
    for name, value in glue_stand_in.target_environment(REGION).items():
        monkeypatch.setenv(name, value)
    return workspace / "glue-dbt"


def test_dbt_glue_connects_through_it(glue_stand_in: GlueStandIn, glue_target: Path) -> None:
    """dbt-glue's own connection: its session, its preamble (SqlWrapper2), a query's JSON."""
    from cdclake.dbt_runner import run_dbt
    from cdclake.settings import Paths

    outcome = run_dbt(["debug", "--target", "glue"], Paths(glue_target))
    assert outcome.success, outcome.error
    assert {"CreateSession", "RunStatement", "GetStatement"} <= set(glue_stand_in.calls)


def test_sql_reaches_spark_on_glue_as_dbt_compiled_it(glue_stand_in: GlueStandIn, glue_target: Path) -> None:
    """dbt-glue wraps SQL in a Python string that is not raw: without the project's
    statement override, Python would halve the backslash and the regex would match nothing."""
    from cdclake.dbt_runner import run_dbt
    from cdclake.settings import Paths

    spark = glue_stand_in.spark
    spark.sql(f"create namespace if not exists {GLUE_CATALOG}.escapes")
    sql = (
        f"create or replace table {GLUE_CATALOG}.escapes.digits using iceberg as "
        "select regexp_extract('ab7', '[a-z](\\\\d)', 1) as digit, 'it\\'s' as quoted"
    )
    outcome = run_dbt(
        ["run-operation", "cdc_execute", "--args", json.dumps({"sql": sql}), "--target", "glue"], Paths(glue_target)
    )
    assert outcome.success, outcome.error
    assert spark.table(f"{GLUE_CATALOG}.escapes.digits").first().asDict() == {"digit": "7", "quoted": "it's"}
