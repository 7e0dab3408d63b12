"""Key identity: the SQL that keys landed rows and the Python that keys MongoDB's
documents give the same key text for every BSON type MongoDB allows as ``_id``, and
keys are equal exactly when MongoDB's equality says the values are.

Each property is checked on generated values (hypothesis) and on a table of the cases
that once collided or went unfound.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from pathlib import Path

import bson
import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp, json_util
from bson.codec_options import DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import CANONICAL_JSON_OPTIONS, LEGACY_JSON_OPTIONS, RELAXED_JSON_OPTIONS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdclake.dbt_runner import dbt_environment
from cdclake.reconcile.canonical import BSON_OPTIONS
from cdclake.reconcile.keys import UnsupportedKey, key_json, key_value
from cdclake.settings import Paths

from repo import REPO

_DECODE = BSON_OPTIONS.with_options(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
JSON_MODES = {"canonical": CANONICAL_JSON_OPTIONS, "relaxed": RELAXED_JSON_OPTIONS, "legacy": LEGACY_JSON_OPTIONS}

# -- generated _id values of every type MongoDB allows as a key -------------------------

int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1).map(Int64)
doubles = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True) | st.integers(-(2**53), 2**53).map(float)
decimals = st.decimals(allow_nan=False, places=None).filter(lambda d: _fits_decimal128(d)).map(
    lambda d: Decimal128(d)
) | st.sampled_from([Decimal128("NaN"), Decimal128("Infinity"), Decimal128("-Infinity"), Decimal128("1.000")])
dates = st.integers(-(2**62), 2**62).map(DatetimeMS) | st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
subtypes = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0xFF])
binaries = st.builds(lambda data, subtype: Binary(data, subtype), st.binary(max_size=40), subtypes).filter(
    lambda b: b.subtype not in (3, 4) or len(b) == 16
) | st.uuids().map(lambda u: Binary.from_uuid(u))
strings = st.text(max_size=30)
object_ids = st.binary(min_size=12, max_size=12).map(ObjectId)
scalars_in_documents = st.one_of(strings, int32s, int64s, object_ids, st.booleans(), st.none(), binaries)
field_names = st.text(max_size=8).filter(lambda name: not name.startswith("$") and "\x00" not in name)
embedded = st.recursive(
    st.dictionaries(field_names, scalars_in_documents, max_size=3),
    lambda children: st.dictionaries(field_names, children, max_size=3),
    max_leaves=6,
)
keys = st.one_of(
    strings,
    object_ids,
    int32s,
    int64s,
    doubles,
    decimals,
    dates,
    binaries,
    st.booleans(),
    st.just(MinKey()),
    st.just(MaxKey()),
    embedded,
    st.builds(Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
)


def _fits_decimal128(value: Decimal) -> bool:
    try:
        return Decimal128(value).to_decimal() == value
    except Exception:  # out of Decimal128's range or precision
        return False


def _as_mongodb_stores_it(key):
    """The key after a round trip through BSON, as mongodump or pymongo hands it over."""
    return bson.decode(bson.encode({"_id": key}), codec_options=_DECODE)["_id"]


# -- the SQL side, compiled from the project's own macros -------------------------------

KEY_SQL = "select doc, ({{ ejson_id_parts('doc') }}).typed_id as key from keyed_docs"


@pytest.fixture(scope="module")
def sql_key(spark, workspace: Path):
    """The compiled key expression of macros/cdc/keys.sql, as a function of JSON texts."""
    from dbt.cli.main import dbtRunner

    from cdclake.dbt_runner import _environment

    paths = Paths(workspace / "key_identity")
    with _environment(dbt_environment(paths)):
        result = dbtRunner().invoke(["compile", "--inline", KEY_SQL, "--quiet", "--project-dir", str(REPO)])
    assert result.success, result.exception
    compiled = result.result.results[0].node.compiled_code

    def keys_of(texts: list[str]) -> dict[str, str | None]:
        spark.createDataFrame([(text,) for text in texts], "doc string").createOrReplaceTempView("keyed_docs")
        return {row["doc"]: row["key"] for row in spark.sql(compiled).collect()}

    return keys_of


def _documents(key, modes=JSON_MODES) -> dict[str, str]:
    texts = {}
    if isinstance(key, float) and not math.isfinite(key):
        modes = {name: options for name, options in modes.items() if name != "legacy"}  # bare NaN is not JSON
    for name, options in modes.items():
        try:
            texts[name] = json_util.dumps({"_id": key, "n": 1}, json_options=options)
            # _id first is read from the document's start, elsewhere by parsing it
            texts[f"{name}, _id last"] = json_util.dumps({"n": 1, "_id": key}, json_options=options)
        except (ValueError, OverflowError):  # legacy JSON cannot write every date
            continue
    return texts


def _nested_types_relaxed_json_keeps(key) -> bool:
    """Relaxed JSON writes dates and doubles inside an embedded _id in a form the key
    cannot normalise (docs/key-identity.md); canonical JSON is what DMS is set to write."""
    return not isinstance(key, dict)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(keys, min_size=1, max_size=40))
def test_sql_and_python_give_one_key_for_every_type(sql_key, values) -> None:
    expected, texts = {}, []
    for value in values:
        stored = _as_mongodb_stores_it(value)
        modes = JSON_MODES if _nested_types_relaxed_json_keeps(stored) else {"canonical": CANONICAL_JSON_OPTIONS}
        for text in _documents(stored, modes).values():
            expected[text] = key_json(stored)
            texts.append(text)
    assert sql_key(texts) == expected


@settings(max_examples=200, deadline=None)
@given(keys)
def test_a_key_names_its_value_back(value) -> None:
    stored = _as_mongodb_stores_it(value)
    assert key_json(_as_mongodb_stores_it(key_value(key_json(stored)))) == key_json(stored)


# -- equality: MongoDB's, not the text's ------------------------------------------------

SAME_KEY = [
    pytest.param([1, Int64(1), 1.0, Decimal128("1"), Decimal128("1.000")], id="numbers compare by value"),
    pytest.param([0, -0.0, Decimal128("-0"), Decimal128("0E+10")], id="zero is zero"),
    pytest.param([2**53, float(2**53), Decimal128(str(2**53))], id="large integers"),
    pytest.param([ObjectId("5f0000000000000000000001"), ObjectId("5F0000000000000000000001")], id="ObjectId hex case"),
]

DIFFERENT_KEYS = [
    pytest.param(["1", 1], id="string 1 vs int 1"),
    pytest.param(["5f0000000000000000000001", ObjectId("5f0000000000000000000001")], id="hex string vs ObjectId"),
    pytest.param(["", None], id="empty string vs null"),
    pytest.param(["\x85", "\u2028", "\u2029", "\n", "\r", "a\x85b"], id="line separators Java's regex stops at"),
    pytest.param(["k" * 245, "k" * 246, "k" * 300, "k" * 300 + "\n"], id="strings around the fast path's length"),
    pytest.param([True, 1, "true"], id="boolean vs number vs string"),
    pytest.param([{"a": 1, "b": 2}, {"b": 2, "a": 1}], id="embedded field order matters"),
    pytest.param([{"a": 1}, {"a": "1"}], id="embedded values keep their type"),
    pytest.param([1.5, Decimal128("1.5E0"), 1], id="fractions are not integers"),
    pytest.param([0.1, 0.1 + 2**-56], id="nearby doubles"),
    pytest.param([dt.datetime(2026, 1, 1), "2026-01-01T00:00:00Z", 1767225600000], id="date vs its text vs its ms"),
    pytest.param(
        [Binary(uuid.UUID(int=1).bytes, 4), Binary(uuid.UUID(int=1).bytes, 3), Binary(uuid.UUID(int=1).bytes, 0)],
        id="binary subtypes",
    ),
    pytest.param([MinKey(), MaxKey(), None], id="MinKey, MaxKey, null"),
    pytest.param([float("nan"), float("inf"), float("-inf"), Decimal128("NaN")], id="special numbers"),
]


@pytest.mark.parametrize("values", SAME_KEY)
def test_mongodb_equal_values_are_one_key(values) -> None:
    assert len({key_json(_as_mongodb_stores_it(value)) for value in values}) == 1


@pytest.mark.parametrize("values", DIFFERENT_KEYS)
def test_different_values_are_different_keys(values) -> None:
    assert len({key_json(_as_mongodb_stores_it(value)) for value in values}) == len(values)


@pytest.mark.parametrize("values", [*SAME_KEY, *DIFFERENT_KEYS])
def test_the_sql_agrees_on_the_table_of_cases(sql_key, values) -> None:
    texts = {text: key_json(_as_mongodb_stores_it(v)) for v in values for text in _documents(v).values()}
    assert sql_key(list(texts)) == texts


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"_id": 7}', "7"),
        ('{ "_id" : { "$numberInt" : "7" } }', "7"),
        ('{"_id": {"$numberLong": "7"}}', "7"),
        ('{"_id": 7.0}', "7"),
        ('{"_id": {"$numberDouble": "7.0"}}', "7"),
        ('{"_id": {"$numberDecimal": "7.00"}}', "7"),
        ('{"n": 1, "_id": "7"}', '"7"'),  # _id not first: the slower kind test
        ('{ "_id" : { "$oid" : "5F0000000000000000000001" } , "n": 1}', '{"$oid":"5f0000000000000000000001"}'),
        ('{"_id": "a\\"b", "n": 1}', '"a\\"b"'),  # an escape: read by parsing, not from the start
        ('{"_id": "caf\\u00e9"}', '"café"'),
        ('{"_id": -0}', "0"),
        ('{"_id": 12345678901234567890}', '{"$numberDouble":"0x1.56a95319d63e1p63"}'),
        ('{"_id": 123456789012345678}', "123456789012345678"),
        ('{"_id": ""}', '""'),
        ('{"_id": {"$uuid": "00000000-0000-0000-0000-000000000001"}}', key_json(uuid.UUID(int=1))),
        ('{"_id": {"$binary": "AAAAAAAAAAAAAAAAAAAAAQ==", "$type": "4"}}', key_json(uuid.UUID(int=1))),
        ('{"_id": {"$date": "2026-11-26T10:00:00.123Z"}}', '{"$date":{"$numberLong":"1795687200123"}}'),
        ('{"_id": {"$date": 1795687200123}}', '{"$date":{"$numberLong":"1795687200123"}}'),
        ('{"_id": {"$oid": "not-an-oid"}}', None),
        ('{"_id": [1, 2]}', None),
    ],
)
def test_dms_spellings_of_one_key(sql_key, text, key) -> None:
    assert sql_key([text]) == {text: key}


def test_keys_mongodb_refuses_are_refused() -> None:
    with pytest.raises(UnsupportedKey, match="list"):
        key_json([1, 2])
