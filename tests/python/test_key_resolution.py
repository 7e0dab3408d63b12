"""The shortcut of key-text resolution is exact: when neither the table nor the batch
holds a key other than its text's default one (cdc_keys_are_default and the batch's
count in cdc_stage_new_files), the apply keys a text-only delete by its default key
without meeting the table, and that is what the full resolution would have given.

Checked on generated tables and batches over keys whose DMS texts collide, and on a
table of the cases where the shortcut must not be taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId, json_util
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdclake.dbt_runner import dbt_environment
from cdclake.demo.dms import dms_key_text
from cdclake.reconcile.keys import key_json
from cdclake.settings import Paths

from repo import REPO

HEX = "5f00000000000000000000aa"
# keys whose DMS texts collide with one another's, and some that collide with nothing
POOL: list[Any] = ["1", 1, 2.5, ObjectId(HEX), HEX, HEX.upper(), "JE-7", "", True, ObjectId("6" * 24)]
TS = "2026-11-26 10:00:00.000000"

SECTIONS = {
    "prechecked": "{{ dms_prechecked_rows_sql('(' ~ dms_typed_rows_sql('gate_landed') ~ ')') }}",
    "resolved": "{{ dms_resolved_key_texts_sql('gate_prechecked', 'gate_table') }}",
    "by_default": (
        "select source_path, source_row, document_id, key_problem "
        "from ({{ dms_keyed_rows_sql('gate_prechecked') }}) as keyed where document_id_kind is null"
    ),
    "batch_gate": "select count_if(key_not_default) from gate_prechecked",
    "table_gate": "{{ cdc_keys_not_default_sql('gate_table') }}",
}


@pytest.fixture(scope="module")
def resolve(spark, workspace: Path):
    """Runs the project's compiled resolution SQL on a table and a batch of events."""
    from dbt.cli.main import dbtRunner

    from cdclake.dbt_runner import _environment

    inline = "\n".join(f"-- section {name}\n{sql}" for name, sql in SECTIONS.items())
    with _environment(dbt_environment(Paths(workspace / "key_resolution"))):
        result = dbtRunner().invoke(["compile", "--inline", inline, "--quiet", "--project-dir", str(REPO)])
    assert result.success, result.exception
    compiled = result.result.results[0].node.compiled_code
    parts = compiled.split("-- section ")[1:]
    sql = {part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] for part in parts}

    def run(table: list[tuple[Any, bool]], events: list[tuple[str, Any, bool]]) -> dict[str, Any]:
        spark.createDataFrame(
            [(key_json(key), dms_key_text(key), deleted) for key, deleted in table] or [(None, None, None)],
            "_id string, dms_key_text string, is_deleted boolean",
        ).where("_id is not null").createOrReplaceTempView("gate_table")
        landed = [
            (op, TS, dms_key_text(key), document(key) if with_doc else None, "f", "f", row, False)
            for row, (op, key, with_doc) in enumerate(events)
        ]
        spark.createDataFrame(
            landed,
            "op string, commit_ts_text string, document_key string, document_json string, "
            "source_path string, source_file string, source_row bigint, is_full_load boolean",
        ).createOrReplaceTempView("gate_landed")
        spark.sql(sql["prechecked"]).createOrReplaceTempView("gate_prechecked")

        def rows(name: str) -> dict[int, tuple[str | None, str | None]]:
            return {r["source_row"]: (r["document_id"], r["key_problem"]) for r in spark.sql(sql[name]).collect()}

        return {
            "resolved": rows("resolved"),
            "by_default": rows("by_default"),
            "shortcut": spark.sql(sql["batch_gate"]).first()[0] == 0 and not spark.sql(sql["table_gate"]).collect(),
        }

    return run


def document(key: Any) -> str:
    return json_util.dumps({"_id": key, "n": 1})


events = st.lists(
    st.tuples(st.sampled_from(["I", "U", "D"]), st.sampled_from(POOL), st.booleans()).map(
        lambda e: (e[0], e[1], e[2] or e[0] != "D")  # only a delete comes without its document
    ),
    min_size=1,
    max_size=6,
)
tables = st.lists(st.tuples(st.sampled_from(POOL), st.booleans()), max_size=5, unique_by=lambda t: key_json(t[0]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables, batch=events)
def test_the_shortcut_resolves_as_the_full_resolution_would(resolve, table, batch) -> None:
    outcome = resolve(table, batch)
    if outcome["shortcut"]:
        assert outcome["by_default"] == outcome["resolved"]


def delete_text(key: Any) -> tuple[str, Any, bool]:
    return ("D", key, False)


@pytest.mark.parametrize(
    ("table", "batch", "shortcut", "key"),
    [
        ([(ObjectId(HEX), False)], [delete_text(ObjectId(HEX))], True, key_json(ObjectId(HEX))),
        ([("JE-7", False)], [delete_text("JE-7")], True, key_json("JE-7")),
        ([], [delete_text(HEX.upper())], True, key_json(ObjectId(HEX))),
        ([(HEX, False)], [delete_text(HEX)], False, key_json(HEX)),  # a string that looks like an ObjectId
        ([(1, False)], [delete_text("1")], False, key_json(1)),  # the int, not the string
        ([(True, False)], [delete_text(True)], False, key_json(True)),
        ([], [("I", 1, True), delete_text("1")], False, key_json(1)),  # the batch's own key
        ([(ObjectId(HEX), False)], [("I", HEX, True), delete_text(HEX)], False, None),  # two keys: ambiguous
    ],
)
def test_the_shortcut_is_taken_only_when_every_key_is_its_texts_default(resolve, table, batch, shortcut, key) -> None:
    outcome = resolve(table, batch)
    assert outcome["shortcut"] is shortcut
    document_id, problem = outcome["resolved"][len(batch) - 1]
    assert document_id == key
    assert (problem is None) is (key is not None)
