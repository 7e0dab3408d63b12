"""One definition of "the same document": properties of the canonical form and its hash."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from bson import Binary, Decimal128, Int64, ObjectId, json_util
from hypothesis import given, settings
from hypothesis import strategies as st

from cdclake.generator.dms import EndpointSettings, to_extended_json
from cdclake.generator.documents import COLLECTIONS, make_document
from cdclake.reconcile.canonical import canonical_bytes, document_hash, extended_json_hash

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


def test_unknown_types_are_refused_with_their_name() -> None:
    with pytest.raises(TypeError, match="complex"):
        document_hash({"a": 1j})
