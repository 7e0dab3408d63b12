"""One definition of "the same document": properties of the canonical form and its hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import uuid
from collections import OrderedDict
from decimal import Decimal

import bson
import pytest
from bson import SON, Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from hypothesis import given, settings
from hypothesis import strategies as st

from cdclake.demo.dms import EndpointSettings, to_extended_json
from cdclake.demo.documents import COLLECTIONS, make_document
from cdclake.reconcile.canonical import NoCanonicalForm, canonical_bytes, document_hash, extended_json_hash

UTC = dt.UTC
keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00.$"), min_size=1, max_size=8)
dates = st.integers(min_value=-(2**41), max_value=2**41).map(
    lambda ms: dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)
)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12).map(
    lambda d: Decimal128(d)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Int64),
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.text(max_size=20),
    st.builds(ObjectId, st.binary(min_size=12, max_size=12)),
    dates,
    decimals,
    st.binary(max_size=16).map(lambda b: Binary(b, 0)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_canonical_extended_json_round_trip_hashes_the_same(document: dict) -> None:
    text = json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS)
    assert extended_json_hash(text) == document_hash(document)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_relaxed_extended_json_round_trip_hashes_the_same(document: dict) -> None:
    text = json_util.dumps(document, json_options=json_util.RELAXED_JSON_OPTIONS)
    assert extended_json_hash(text) == document_hash(document)


@settings(max_examples=300, deadline=None)
@given(documents, st.data())
def test_any_single_field_change_changes_the_hash(document: dict, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    replacement = data.draw(values)
    changed = dict(document, **{key: replacement})
    if canonical_bytes({key: replacement}) == canonical_bytes({key: document[key]}):
        return  # the same value under the rules (e.g. int 5 and Int64 5): not a change
    assert document_hash(changed) != document_hash(document)


@settings(max_examples=100, deadline=None)
@given(documents)
def test_field_order_does_not_matter(document: dict) -> None:
    assert document_hash(dict(reversed(list(document.items())))) == document_hash(document)


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("mode", ["canonical", "relaxed"])
def test_the_dms_form_of_generated_documents_hashes_like_the_source(collection: str, mode: str) -> None:
    settings_ = EndpointSettings(ejson=mode)
    for index in range(50):
        document = make_document(3, collection, index, index % 3)
        assert extended_json_hash(to_extended_json(document, settings_)) == document_hash(document)


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ({"a": 5}, {"a": Int64(5)}, True),  # int32 and int64: one integer
        ({"a": 5}, {"a": 5.0}, False),  # integer and double differ
        ({"a": Decimal128("1.50")}, {"a": Decimal128("1.5")}, False),  # an amount's scale matters
        ({"a": None}, {}, False),  # null and missing differ
        ({"a": math.nan}, {"a": float("nan")}, True),  # every NaN is the same NaN
        ({"a": 0.0}, {"a": -0.0}, False),
        ({"a": [1, 2]}, {"a": [2, 1]}, False),  # arrays keep their order
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": 2, "x": 1}}, True),  # nested field order does not matter
        (
            {"d": dt.datetime(1960, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)},
            {"d": dt.datetime(1960, 1, 1, 0, 0, 0, 123999)},  # naive = UTC; below-ms digits are not BSON
            True,
        ),
        ({"b": Binary(b"x", 0)}, {"b": Binary(b"x", 5)}, False),  # binary subtype matters
        ({"s": "é"}, {"s": "e\u0301"}, False),  # no Unicode normalisation: bytes are bytes
        ({"a": Decimal128(Decimal("0"))}, {"a": 0}, False),
    ],
)
def test_rules(left: dict, right: dict, same: bool) -> None:
    assert (document_hash(left) == document_hash(right)) is same


def test_unknown_types_are_refused_with_their_name_and_path() -> None:
    with pytest.raises(NoCanonicalForm, match="complex") as refused:
        document_hash({"a": 1j})
    assert refused.value.path == "a"


# -- the encoder is tuned for speed: its bytes must not move -----------------------------

EVERY_TYPE = {
    "null": None,
    "true": True,
    "false": False,
    "int32": -7,
    "int64": Int64(2**40 + 1),
    "big_int": 10**20,
    "double": 1.25,
    "negative_zero": -0.0,
    "nan": math.nan,
    "infinity": -math.inf,
    "decimal": Decimal128("-1.50"),
    "decimal_integer": Decimal128("400"),
    "decimal_places": Decimal128("0.000123"),
    "decimal_zero": Decimal128("-0.00"),
    "decimal_exponent": Decimal128("1E+3"),
    "decimal_small": Decimal128("1E-7"),
    "decimal_digits": Decimal128("1234567890123456789012345678.901234"),
    "decimal_nan": Decimal128("NaN"),
    "decimal_infinity": Decimal128("-Infinity"),
    "string": "Zürich 東京 \U0001f600",
    "empty_string": "",
    "object_id": ObjectId("5f1d7a2e9c3b4a0012345678"),
    "date_before_1970": dt.datetime(1960, 5, 4, 3, 2, 1, 123456, tzinfo=UTC),
    "naive_date": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    "offset_date": dt.datetime(2024, 1, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "binary": Binary(b"\x00\x01\xff", 4),
    "bytes": b"raw",
    "document": {"z": 1, "a": {"m": [], "é": "x"}, "Z": None, "東京": 2, "e\u0301": 3},
    "empty_document": {},
    "array": [1, "two", [3.0], {"k": None}, (4, 5), True, Int64(6)],
    "timestamp": Timestamp(1_700_000_000, 7),
    "regex": Regex("^a.*z$", "im"),
    "min_key": MinKey(),
    "max_key": MaxKey(),
    "son": SON([("b", 1), ("a", 2)]),
    "ordered": OrderedDict([("y", 1), ("x", 2)]),
}
INVOICE = {
    "_id": ObjectId("5e0be100030000000000002a"),
    "number": "INV-2024-0000042",
    "client_id": ObjectId("5e0be10001000000000000a1"),
    "status": "paid",
    "currency": "EUR",
    "issued_at": dt.datetime(2024, 3, 1, 9, 30, 15, 250000, tzinfo=UTC),
    "lines": [
        {
            "line_no": 1,
            "description": "Advisory — M&A due diligence",
            "quantity": Decimal128("2.5"),
            "unit_price": Decimal128("180.00"),
            "amount": Decimal128("450.00"),
            "tax_rate": 0.19,
        },
        {
            "line_no": 2,
            "description": "Steuerberatung",
            "quantity": Decimal128("12"),
            "unit_price": Decimal128("95.50"),
            "amount": Decimal128("1146.00"),
            "tax_rate": 0.0,
        },
    ],
    "total": Decimal128("1596.00"),
    "version": 3,
}
JOURNAL_ENTRY = {
    "_id": "JE-000000042",
    "entry_no": Int64(10_000_000_042),
    "posted_at": dt.datetime(2025, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    "source_invoice_id": None,
    "lines": [
        {"account": "4000", "debit": Decimal128("0.00"), "credit": Decimal128("1596.00")},
        {"account": "1200", "debit": Decimal128("1596.00"), "credit": Decimal128("0.00")},
    ],
}
CLIENT = {
    "_id": ObjectId("5e0be1000100000000000007"),
    "name": "Łódź Logistics Sp. z o.o. #7",
    "founded_on": dt.datetime(1921, 6, 1, tzinfo=UTC),
    "address": {"street": "12 Hauptstraße", "city": "København", "country": "DK"},
    "tags": ["vip", "sme"],
    "credit_limit": Decimal128("250000.00"),
    "annual_revenue": Int64(987654321012),
    "risk_score": 42.125,
    "vat_number": None,
}
_BSON_ENCODABLE = {k: v for k, v in EVERY_TYPE.items() if k != "big_int"}
# The types the canonical form first gave a form when it was made to cover the BSON spec.
SPEC_TYPES = {
    "code": Code("function () { return 1; }"),
    "code_with_scope": Code("f(x)", {"x": 1, "y": [Code("g")]}),
    "dbref": DBRef("clients", ObjectId("5e0be1000100000000000007"), "ledger", note="x"),
    "date_before_year_1": DatetimeMS(-(2**62)),
    "date_after_year_9999": DatetimeMS(2**62),
    "uuid": uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"),
    "regex_all_flags": Regex("^x", "ilmsux"),
    "wrapper_shaped": {"$numberLong": "5"},
    "not_a_wrapper": {"$oid": "not-an-oid"},
}
# BLAKE2b-128 of canonical_bytes, computed with the straightforward encoder before it was
# tuned: a change here changes every stored hash and is a change of the rules.
# EVERY_TYPE and its decoded form changed once, for their Regex only: its options were
# hashed as Python wrote the flags ("re.IGNORECASE|re.MULTILINE" built in Python, "10"
# decoded: a Regex differed from itself); they are now the option letters ("im").
PINNED = [
    (EVERY_TYPE, "a76bc895695121cd940292dc934fc5a7"),
    (INVOICE, "79387790370d07b7f2446182deb6569a"),
    (JOURNAL_ENTRY, "ea5cf2486385f4eb7c97c740cf7e4b7c"),
    (CLIENT, "dd63f779bfbafbd9b3c73afed6feeb23"),
    # As pymongo hands documents over: bson's own UTC tzinfo; a lazily decoded document.
    (
        bson.decode(bson.encode(_BSON_ENCODABLE), codec_options=CodecOptions(tz_aware=True)),
        "39aea54ef4f906a6f9b3e168d6c9ae50",
    ),
    (RawBSONDocument(bson.encode(INVOICE)), "79387790370d07b7f2446182deb6569a"),
    (SPEC_TYPES, "85c5b5102e81508be7422f59fe135746"),
]


@pytest.mark.parametrize(("document", "expected"), PINNED)
def test_canonical_bytes_are_pinned(document: dict, expected: str) -> None:
    assert hashlib.blake2b(canonical_bytes(document), digest_size=16).hexdigest() == expected
    assert document_hash(document).hex() == expected


def _amount_bid(coefficient: int, exponent: int, negative: bool) -> bytes:
    """A Decimal128's 16 bytes (little-endian) from a coefficient under 2**64."""
    high = negative << 63 | (6176 + exponent) << 49
    return coefficient.to_bytes(8, "little") + high.to_bytes(8, "little")


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        st.binary(min_size=16, max_size=16),  # anything: NaN, infinities, non-canonical forms
        st.builds(_amount_bid, st.integers(0, 2**64 - 1), st.integers(-8, 1), st.booleans()),
    )
)
def test_a_decimal128_is_written_as_its_str(bid: bytes) -> None:
    value = Decimal128.from_bid(bid)
    text = str(value).encode()
    field = canonical_bytes({"a": None})[:-1]  # the document header and the field name
    assert canonical_bytes({"a": value}) == field + b"m" + len(text).to_bytes(4, "big") + text


class _Str(str):
    pass


class _Int(int):
    pass


class _Float(float):
    pass


class _Dict(dict):
    pass


class _Datetime(dt.datetime):
    pass


class _Decimal128(Decimal128):
    pass


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (True, 1, False),  # a bool is an int to Python, not to the rules
        (False, Int64(0), False),
        (_Int(5), 5, True),
        (_Float(1.5), 1.5, True),
        (_Str("x"), "x", True),
        (Binary(b"x", 0), b"x", True),
        (_Datetime(2020, 1, 1, 0, 0, 0, 1500), dt.datetime(2020, 1, 1, 0, 0, 0, 1000, tzinfo=UTC), True),
        (_Decimal128("1.50"), Decimal128("1.50"), True),
        (_Dict(b=1, a=2), {"a": 2, "b": 1}, True),
        (SON([("b", 1), ("a", 2)]), {"a": 2, "b": 1}, True),
        ((1, 2), [1, 2], True),
    ],
)
def test_subclasses_follow_the_rules_of_their_base(left: object, right: object, same: bool) -> None:
    assert (canonical_bytes({"v": left}) == canonical_bytes({"v": right})) is same


def test_field_names_of_a_str_subclass_sort_and_encode_like_str() -> None:
    assert canonical_bytes({_Str("é"): 1, "z": 2}) == canonical_bytes({"z": 2, "é": 1})
    assert canonical_bytes({"é": 1, "z": 2}) == canonical_bytes({_Str("z"): 2, _Str("é"): 1})


@pytest.mark.parametrize(("document", "expected"), [row for row in PINNED if type(row[0]) is dict])
@pytest.mark.parametrize("mode", ["canonical", "relaxed"])
def test_the_table_sides_digests_are_pinned(document: dict, expected: str, mode: str) -> None:
    # the table side hashes the text straight (extended_json_hash): the same pinned bytes
    options = {"canonical": json_util.CANONICAL_JSON_OPTIONS, "relaxed": json_util.RELAXED_JSON_OPTIONS}[mode]
    text = json_util.dumps(document, json_options=options.with_options(uuid_representation=UuidRepresentation.STANDARD))
    assert extended_json_hash(text).hex() == expected
