"""The canonical form covers the whole BSON spec (docs/canonical-form.md).

For every BSON type, and for documents mixing them all (``$``-prefixed and dotted field
names, Code with scope, DBRef, Regex with each flag, dates outside 1970-9999 and outside
what datetime holds, every binary subtype, nested documents and arrays):

(a) the MongoDB side (BSON decoded with ``BSON_OPTIONS``) and the table side (its
    Extended JSON, canonical, relaxed or legacy, read with ``parse_extended_json``) have
    the same canonical bytes;
(b) any single change (a value, a field name, a type, a Regex flag, a Code scope) changes
    the hash, unless the rules call the two documents the same: ``model`` below writes
    the rules out plainly, and the hash must agree with it both ways.

Symbol, Undefined and DBPointer cannot be written by pymongo's ``bson.encode``: ``to_bson``
writes their bytes itself (markers ``Symbol``, ``Undefined``, ``DBPointer``), and
``json_form`` writes them as Extended JSON does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import pickle
import re
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bson
import pytest
from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdclake.reconcile.canonical import (
    _WRAPPER_NAMES,
    BSON_OPTIONS,
    JSON_OPTIONS,
    NoCanonicalForm,
    canonical_bytes,
    document_hash,
    extended_json_bytes,
    extended_json_hash,
    parse_extended_json,
)

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

# -- the three BSON types pymongo decodes but cannot encode -----------------------------


@dataclass(frozen=True)
class Symbol:  # BSON 0x0E (deprecated): bson decodes it as str
    text: str


@dataclass(frozen=True)
class Undefined:  # BSON 0x06 (deprecated): bson decodes it as None
    pass


@dataclass(frozen=True)
class DBPointer:  # BSON 0x0C (deprecated): bson decodes it as DBRef(collection, id)
    collection: str
    id: ObjectId


_ENCODE_OPTIONS = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)


def _cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


def _string(text: str) -> bytes:
    data = _cstring(text)
    return struct.pack("<i", len(data)) + data


def to_bson(document: Mapping[str, Any]) -> bytes:
    """BSON bytes of a document: bson.encode's, plus the deprecated types."""
    body = b"".join(_element(name, value) for name, value in document.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _element(name: str, value: Any) -> bytes:
    key = _cstring(name)
    if isinstance(value, Symbol):
        return b"\x0e" + key + _string(value.text)
    if isinstance(value, Undefined):
        return b"\x06" + key
    if isinstance(value, DBPointer):
        return b"\x0c" + key + _string(value.collection) + value.id.binary
    if isinstance(value, DBRef):
        return b"\x03" + key + to_bson(value.as_doc())
    if isinstance(value, Code) and value.scope is not None:
        payload = _string(str(value)) + to_bson(value.scope)
        return b"\x0f" + key + struct.pack("<i", len(payload) + 4) + payload
    if isinstance(value, Mapping):
        return b"\x03" + key + to_bson(value)
    if isinstance(value, (list, tuple)):
        return b"\x04" + key + to_bson({str(index): item for index, item in enumerate(value)})
    return bson.encode({name: value}, codec_options=_ENCODE_OPTIONS)[4:-1]


def json_form(value: Any) -> Any:
    """The value with the deprecated types as their Extended JSON wrappers."""
    if isinstance(value, Symbol):
        return {"$symbol": value.text}
    if isinstance(value, Undefined):
        return {"$undefined": True}
    if isinstance(value, DBPointer):
        return {"$dbPointer": {"$ref": value.collection, "$id": value.id}}
    if isinstance(value, DBRef):  # the document {$ref, $id, $db, ...}, as bson writes it
        return json_form(dict(value.as_doc()))
    if isinstance(value, Code):
        return value if value.scope is None else Code(str(value), json_form(value.scope))
    if isinstance(value, Mapping):
        return {name: json_form(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_form(item) for item in value]
    return value


# How a writer of Extended JSON may write a document. (UUIDs as subtype 4: json_util
# refuses uuid.UUID without a representation.)
MODES = {
    name: options.with_options(uuid_representation=UuidRepresentation.STANDARD)
    for name, options in (
        ("canonical", json_util.CANONICAL_JSON_OPTIONS),
        ("relaxed", json_util.RELAXED_JSON_OPTIONS),
        ("legacy", json_util.LEGACY_JSON_OPTIONS),
    )
}


def source_side(document: Mapping[str, Any]) -> dict[str, Any]:
    return bson.decode(to_bson(document), codec_options=BSON_OPTIONS)


def table_side(document: Mapping[str, Any], mode: str) -> dict[str, Any]:
    return parse_extended_json(json_util.dumps(json_form(document), json_options=MODES[mode]))


def table_bytes(document: Mapping[str, Any], mode: str) -> bytes:
    """The table side's bytes as reconciliation computes them (straight from the text),
    checked against the definition: the text read by ``parse_extended_json``, encoded."""
    text = json_util.dumps(json_form(document), json_options=MODES[mode])
    fast = extended_json_bytes(text)
    assert fast == canonical_bytes(parse_extended_json(text))
    return fast


# -- the rules, written plainly ---------------------------------------------------------


def read_back(value: Any) -> Any:
    """What the table side reads where MongoDB holds ``value`` (its Extended JSON, read)."""
    text = json_util.dumps({"v": json_form(value)}, json_options=MODES["canonical"])
    return parse_extended_json(text)["v"]


def _milliseconds(value: dt.datetime) -> int:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (aware - EPOCH) // dt.timedelta(milliseconds=1)


def _regex_options(flags: int) -> str:
    return "".join(letter for letter in "ilmsux" if flags & bson.regex.str_flags_to_int(letter))


def model(value: Any, top: bool = False) -> Any:
    """What the rules say a value is, as a comparable structure: two values are the same
    document content exactly when their models are equal."""
    if isinstance(value, Symbol):
        return ("string", value.text)
    if value is None or isinstance(value, Undefined):
        return ("null",)
    if isinstance(value, DBPointer):
        return model(DBRef(value.collection, value.id))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("integer", int(value))
    if isinstance(value, float):
        return ("double", "NaN" if math.isnan(value) else value.hex())
    if isinstance(value, Decimal128):
        return ("decimal", str(value))
    if isinstance(value, Code):
        if value.scope is None:
            return ("code", str(value))
        if not _WRAPPER_NAMES.isdisjoint(value.scope):
            read = read_back(value)
            if not isinstance(read, Code):
                return model(read, top=True)
            value = read
        return ("code with scope", str(value), model(value.scope, top=True))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, ObjectId):
        return ("objectid", value.binary)
    if isinstance(value, dt.datetime):
        return ("date", _milliseconds(value))
    if isinstance(value, DatetimeMS):
        return ("date", int(value))
    if isinstance(value, uuid.UUID):
        return ("binary", 4, value.bytes)
    if isinstance(value, Binary):
        return ("binary", value.subtype, bytes(value))
    if isinstance(value, bytes):
        return ("binary", 0, value)
    if isinstance(value, Timestamp):
        return ("timestamp", value.time, value.inc)
    if isinstance(value, Regex):
        return ("regex", value.pattern, _regex_options(int(value.flags)))
    if isinstance(value, MinKey):
        return ("minkey",)
    if isinstance(value, MaxKey):
        return ("maxkey",)
    if isinstance(value, DBRef):
        return model(dict(value.as_doc()), top=True)
    if isinstance(value, Mapping):
        if not top and not _WRAPPER_NAMES.isdisjoint(value):
            read = read_back(value)
            return model(read, top=isinstance(read, dict))
        return ("document", tuple(sorted((name, model(item)) for name, item in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(model(item) for item in value))
    raise AssertionError(f"no model for {type(value).__name__}")


# -- documents with every BSON type -----------------------------------------------------

plain_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
names = st.one_of(
    plain_names,
    st.sampled_from(["_id", "amount", "lines", "a", "b"]),
    st.tuples(plain_names, plain_names).map(".".join),  # dotted
    st.one_of(  # $-prefixed, Extended JSON's own names among them
        plain_names.map(lambda name: "$" + name),
        st.sampled_from(sorted(_WRAPPER_NAMES | {"$id", "$db", "$scope", "$options", "$type"})),
    ),
)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
cstrings = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
MIN_DATETIME_MS = _milliseconds(dt.datetime.min)
MAX_DATETIME_MS = _milliseconds(dt.datetime.max)
dates = st.one_of(
    # what datetime holds, aware or naive, with digits below the millisecond
    st.integers(MIN_DATETIME_MS * 1000, MAX_DATETIME_MS * 1000).map(lambda us: EPOCH + dt.timedelta(microseconds=us)),
    st.integers(-(2**41), 2**41).map(lambda ms: dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)),
    # anything BSON holds, before year 1 and after 9999 included
    st.integers(-(2**63), 2**63 - 1).map(DatetimeMS),
)
BINARY_SUBTYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x80, 0xFF]
binaries = st.one_of(
    st.builds(Binary, st.binary(max_size=20), st.sampled_from(BINARY_SUBTYPES) | st.integers(0x80, 0xFF)),
    st.binary(max_size=8),
    st.uuids(),
)
regexes = st.builds(
    Regex,
    cstrings,
    st.one_of(
        st.sets(st.sampled_from("ilmsux")).map("".join),
        st.sets(st.sampled_from([re.I, re.L, re.M, re.S, re.U, re.X])).map(lambda fs: sum(fs, re.RegexFlag(0))),
    ),
)
decimals = st.one_of(
    st.binary(min_size=16, max_size=16).map(Decimal128.from_bid),  # NaN, infinities, -0, any exponent
    st.decimals(places=3, min_value=-(10**20), max_value=10**20).map(Decimal128),
    st.sampled_from(["NaN", "-Infinity", "Infinity", "-0", "-0.000", "1E+6000", "1.0E-6100"]).map(Decimal128),
)
object_ids = st.binary(min_size=12, max_size=12).map(ObjectId)
# One strategy per BSON type (in the spec's order), named as the spec names them.
SCALARS = {
    "double": st.floats(allow_nan=True, allow_infinity=True),  # NaN, infinities, -0.0
    "string": texts,
    "binary": binaries,
    "undefined": st.builds(Undefined),
    "objectid": object_ids,
    "boolean": st.booleans(),
    "date": dates,
    "null": st.none(),
    "regex": regexes,
    "dbpointer": st.builds(DBPointer, cstrings, object_ids),
    "javascript": texts.map(Code),
    "symbol": texts.map(Symbol),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1).map(Int64) | st.integers(-(2**63), 2**63 - 1),
    "timestamp": st.builds(Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    "decimal128": decimals,
    "minkey": st.builds(MinKey),
    "maxkey": st.builds(MaxKey),
}
scalars = st.one_of(*SCALARS.values())


def _wrapper_bodies(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Sub-documents shaped like Extended JSON wrappers, valid and not."""
    digits = st.integers(-(2**70), 2**70).map(str)
    valid = st.one_of(
        digits.map(lambda d: {"$numberLong": d}),
        digits.map(lambda d: {"$numberInt": d}),
        st.floats().map(lambda f: {"$numberDouble": repr(f)}),
        st.decimals(places=2, min_value=-(10**9), max_value=10**9).map(lambda d: {"$numberDecimal": str(d)}),
        object_ids.map(lambda oid: {"$oid": str(oid)}),
        st.integers(-(2**62), 2**62).map(lambda ms: {"$date": {"$numberLong": str(ms)}}),
        st.integers(-(2**62), 2**62).map(lambda ms: {"$date": ms}),
        st.sampled_from(["2024-02-29T23:59:59.999Z", "1970-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00"]).map(
            lambda iso: {"$date": iso}
        ),
        st.builds(
            lambda data, subtype: {"$binary": {"base64": base64.b64encode(data).decode(), "subType": f"{subtype:02x}"}},
            st.binary(max_size=6),
            st.sampled_from(BINARY_SUBTYPES),
        ),
        st.builds(lambda data: {"$binary": base64.b64encode(data).decode(), "$type": "00"}, st.binary(max_size=6)),
        st.uuids().map(lambda u: {"$uuid": str(u)}),
        st.builds(
            lambda p, o: {"$regularExpression": {"pattern": p, "options": o}},
            cstrings,
            st.sampled_from(["", "i", "mx"]),
        ),
        st.builds(lambda p, o: {"$regex": p, "$options": o}, cstrings, st.sampled_from(["", "s", "iu"])),
        st.builds(lambda t, i: {"$timestamp": {"t": t, "i": i}}, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
        texts.map(lambda s: {"$symbol": s}),
        texts.map(lambda s: {"$code": s}),
        st.builds(
            lambda s, scope: {"$code": s, "$scope": scope}, texts, st.dictionaries(plain_names, children, max_size=2)
        ),
        st.just({"$undefined": True}),
        st.sampled_from([{"$minKey": 1}, {"$maxKey": 1}, {"$minKey": Int64(1)}]),
        st.builds(lambda c, i: {"$dbPointer": {"$ref": c, "$id": i}}, cstrings, object_ids),
        st.builds(
            lambda c, i, db, extra: {"$ref": c, "$id": i, **({"$db": db} if db != "-" else {}), **extra},
            cstrings,
            children,
            st.one_of(st.none(), cstrings, st.just("-")),
            st.dictionaries(names, children, max_size=2),
        ),
    )
    invalid = st.one_of(
        st.sampled_from(
            [
                {"$oid": "not-an-oid"},
                {"$date": "garbage"},
                {"$date": 5.5},
                {"$numberLong": "5x"},
                {"$numberInt": 5},
                {"$numberDecimal": "twelve"},
                {"$undefined": 1},
                {"$minKey": 2},
                {"$timestamp": {"t": -1, "i": 0}},
                {"$binary": {"base64": "!!", "subType": "00"}},
                {"$regex": {"$in": ["a"]}},
                {"$ref": 5, "$id": 1},
                {"$symbol": 5},
            ]
        ),
        st.dictionaries(st.sampled_from(sorted(_WRAPPER_NAMES)), children, min_size=1, max_size=3),
    )
    both = st.one_of(valid, invalid)
    extra_field = st.builds(lambda body, name, value: {**body, name: value}, both, names, children)
    return st.one_of(valid, invalid, extra_field)


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(names, children, max_size=4),
        st.dictionaries(plain_names, children, max_size=4),
        st.builds(Code, texts, st.dictionaries(names, children, max_size=3)),  # Code with scope
        st.builds(
            lambda collection, id_, database, extra: DBRef(collection, id_, database, extra),
            cstrings,
            children,
            st.none() | cstrings,
            st.dictionaries(names, children, max_size=2),
        ),
        _wrapper_bodies(children),
    ),
    max_leaves=16,
)
containers = {
    "document": st.dictionaries(names, values, max_size=4),
    "array": st.lists(values, max_size=4),
    "javascript with scope": st.builds(Code, texts, st.dictionaries(names, values, max_size=3)),
    "dbref": st.builds(DBRef, cstrings, values, st.none() | cstrings),
    "$-prefixed sub-document": _wrapper_bodies(values),
}
# Every type at least once, at the top and nested in a document, an array and a scope.
every_type = st.fixed_dictionaries({**SCALARS, **containers}).flatmap(
    lambda fields: st.fixed_dictionaries(
        {
            "a.dotted name": st.just(fields),
            "$and a $-prefixed one": st.just(list(fields.values())),
            "scoped": st.just(Code("f()", fields)),
        }
    ).map(lambda nested: {**fields, **nested})
)
documents = st.one_of(st.dictionaries(names, values, min_size=1, max_size=8), every_type)
# A fixed seed: hypothesis 6.170 sometimes crashes inside its own engine (KeyError on
# bson.code.Code, a str subclass) when it mutates values drawn earlier, which made a clean
# CI run fail on no fault of the code under test. The same examples every run keep CI
# reproducible; max_examples keeps the search broad.
DERANDOMIZED = {"derandomize": True, "database": None}
EXAMPLES = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], **DERANDOMIZED)


# -- (a) the MongoDB side and the table side agree --------------------------------------


@pytest.mark.parametrize("mode", sorted(MODES))
@EXAMPLES
@given(document=documents)
def test_the_source_side_and_the_table_side_agree(mode: str, document: dict) -> None:
    source = source_side(document)
    expected = canonical_bytes(source)
    assert table_bytes(document, mode) == expected
    # as a writer of Extended JSON writes what MongoDB holds (bson decoded)
    assert canonical_bytes(parse_extended_json(json_util.dumps(source, json_options=MODES[mode]))) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], **DERANDOMIZED)
@given(document=documents)
def test_a_lazily_decoded_document_hashes_like_a_decoded_one(document: dict) -> None:
    lazy = RawBSONDocument(to_bson(document), codec_options=BSON_OPTIONS.with_options(document_class=RawBSONDocument))
    assert canonical_bytes(lazy) == canonical_bytes(source_side(document))


@EXAMPLES
@given(document=documents)
def test_the_hash_follows_the_rules(document: dict) -> None:
    # the model of the document and of both sides is one, and the hash sees only it
    assert model(source_side(document), top=True) == model(document, top=True)
    assert model(table_side(document, "canonical"), top=True) == model(document, top=True)


# -- (b) any single change is detected --------------------------------------------------


def _retyped(value: Any) -> list[Any]:
    """The same text or number as another type, or one flag, scope or subtype more."""
    out: list[Any] = []
    if isinstance(value, bool):
        out += [int(value), str(value).lower()]
    elif isinstance(value, int):
        out += [str(value), float(value), Decimal128(str(int(value))), value + 1]
    elif isinstance(value, float) and math.isfinite(value):
        out += [repr(value), Decimal128(repr(value)), -value]
    elif isinstance(value, Code):
        out += [str(value), Symbol(str(value)), Code(str(value), {} if value.scope is None else None)]
        if value.scope is not None:
            out += [Code(str(value), {**value.scope, "added": 1})]
    elif isinstance(value, str):
        out += [Code(value), value.encode(), value + " "]
    elif isinstance(value, Regex):
        flags = int(value.flags)
        out += [Regex(value.pattern, flags ^ int(flag)) for flag in (re.I, re.L, re.M, re.S, re.U, re.X)]
        out += [value.pattern, Regex(value.pattern + "a", flags)]
    elif isinstance(value, Binary):
        out += [Binary(bytes(value), (value.subtype + 1) % 256), bytes(value) + b"\x00"]
    elif isinstance(value, dt.datetime):
        out += [value + dt.timedelta(milliseconds=1), _milliseconds(value)]
    elif isinstance(value, DatetimeMS):
        out += [int(value), DatetimeMS(int(value) ^ 1)]
    elif isinstance(value, ObjectId):
        out += [str(value), value.binary]
    elif isinstance(value, Decimal128):
        out += [str(value)]
    elif isinstance(value, Timestamp):
        out += [Timestamp(value.time, value.inc ^ 1), DatetimeMS(value.time * 1000)]
    elif isinstance(value, DBRef):
        out += [DBRef(value.collection + "x", value.id, value.database)]
    elif isinstance(value, (MinKey, MaxKey)):
        out += [MaxKey() if isinstance(value, MinKey) else MinKey(), None]
    elif value is None:
        out += [Undefined(), {}, []]
    elif isinstance(value, (list, tuple)):
        out += [list(value)[::-1], [*value, None], {str(i): item for i, item in enumerate(value)}]
    elif isinstance(value, Mapping):
        out += [list(value.values()), {**value, "added": None}]
    return out or [None]


def _changed(data: st.DataObject, value: Any, top: bool = False) -> Any:
    """``value`` with one change somewhere inside it (the document stays a document)."""
    if isinstance(value, Mapping) and value and (top or data.draw(st.booleans())):
        name = data.draw(st.sampled_from(list(value)))
        how = data.draw(st.sampled_from(["inside", "rename", "drop", "add"]))
        changed = dict(value)
        if how == "inside":
            changed[name] = _changed(data, value[name])
        elif how == "rename":
            changed[data.draw(names.filter(lambda new: new not in value))] = changed.pop(name)
        elif how == "drop":
            del changed[name]
        else:
            changed[data.draw(names.filter(lambda new: new not in value))] = data.draw(values)
        return changed
    if isinstance(value, (list, tuple)) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], _changed(data, value[index]), *value[index + 1 :]]
    if isinstance(value, Code) and value.scope and data.draw(st.booleans()):
        return Code(str(value), _changed(data, value.scope))
    if isinstance(value, DBRef) and data.draw(st.booleans()):
        return DBRef(value.collection, _changed(data, value.id), value.database)
    if data.draw(st.booleans()):
        return data.draw(st.sampled_from(_retyped(value)))
    return data.draw(values)


@EXAMPLES
@given(document=documents, data=st.data())
def test_any_single_change_changes_the_hash(document: dict, data: st.DataObject) -> None:
    changed = _changed(data, document, top=True)
    differs = model(changed, top=True) != model(document, top=True)
    assert (document_hash(source_side(changed)) != document_hash(source_side(document))) is differs
    if differs:
        assert extended_json_hash(json_util.dumps(json_form(changed), json_options=MODES["relaxed"])) != (
            document_hash(source_side(document))
        )


@settings(max_examples=200, deadline=None, **DERANDOMIZED)
@given(document=documents)
def test_field_order_does_not_matter(document: dict) -> None:
    assert document_hash(source_side(dict(reversed(list(document.items()))))) == document_hash(source_side(document))


OID = ObjectId("5f1d7a2e9c3b4a0012345678")
UUID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
# Single changes, named: each must change the hash on both sides.
CHANGES = [
    ("int 1 -> string '1'", {"a": 1}, {"a": "1"}),
    ("int 1 -> double 1.0", {"a": 1}, {"a": 1.0}),
    ("int 1 -> Decimal128 1", {"a": 1}, {"a": Decimal128("1")}),
    ("int 1 -> true", {"a": 1}, {"a": True}),
    ("string -> code", {"a": "x"}, {"a": Code("x")}),
    ("symbol -> code", {"a": Symbol("x")}, {"a": Code("x")}),
    ("code -> code with empty scope", {"a": Code("x")}, {"a": Code("x", {})}),
    ("code scope value changed", {"a": Code("x", {"n": 1})}, {"a": Code("x", {"n": 2})}),
    ("code scope field renamed", {"a": Code("x", {"n": 1})}, {"a": Code("x", {"m": 1})}),
    ("regex flag added", {"a": Regex("^x", "i")}, {"a": Regex("^x", "im")}),
    ("regex pattern changed", {"a": Regex("^x", "i")}, {"a": Regex("^y", "i")}),
    ("binary subtype 4 -> 3", {"a": Binary(UUID.bytes, 4)}, {"a": Binary(UUID.bytes, 3)}),
    ("binary byte changed", {"a": Binary(b"ab", 0x80)}, {"a": Binary(b"ac", 0x80)}),
    ("date + 1 ms", {"a": dt.datetime(2024, 1, 1)}, {"a": dt.datetime(2024, 1, 1, 0, 0, 0, 1000)}),
    ("date after 9999 + 1 ms", {"a": DatetimeMS(2**62)}, {"a": DatetimeMS(2**62 + 1)}),
    ("decimal scale", {"a": Decimal128("1.50")}, {"a": Decimal128("1.5")}),
    ("timestamp increment", {"a": Timestamp(5, 1)}, {"a": Timestamp(5, 2)}),
    ("min key -> max key", {"a": MinKey()}, {"a": MaxKey()}),
    ("null -> missing", {"a": None, "b": 1}, {"b": 1}),
    ("field renamed", {"a": 1}, {"b": 1}),
    ("$-prefixed name", {"a": 1}, {"$a": 1}),
    ("dotted name -> nested document", {"a.b": 1}, {"a": {"b": 1}}),
    ("array order", {"a": [1, 2]}, {"a": [2, 1]}),
    ("DBRef database", {"a": DBRef("c", 1, "x")}, {"a": DBRef("c", 1, "y")}),
    ("DBRef extra field", {"a": DBRef("c", 1)}, {"a": DBRef("c", 1, extra=None)}),
    ("DBPointer id", {"a": DBPointer("c", OID)}, {"a": DBPointer("c", ObjectId(b"y" * 12))}),
    ("not a wrapper: value", {"a": {"$oid": "not-an-oid"}}, {"a": {"$oid": "not-an-oiD"}}),
    ("wrapper-shaped: value", {"a": {"$numberLong": "5"}}, {"a": {"$numberLong": "6"}}),
    ("wrapper-shaped -> not a wrapper", {"a": {"$numberLong": "5"}}, {"a": {"$numberLong": "5", "x": 1}}),
]


@pytest.mark.parametrize(("change", "before", "after"), CHANGES, ids=[row[0] for row in CHANGES])
def test_a_single_change_changes_the_hash(change: str, before: dict, after: dict) -> None:
    assert document_hash(source_side(after)) != document_hash(source_side(before))
    for mode in MODES:
        assert table_bytes(after, mode) != table_bytes(before, mode)


# -- one row per BSON type --------------------------------------------------------------

# (BSON type, the value as MongoDB holds it, a neighbour the rules call different)
BSON_TYPES = [
    ("double", 1.5, 1.25),
    ("double -0.0", -0.0, 0.0),
    ("double NaN", math.nan, math.inf),
    ("double -Infinity", -math.inf, math.inf),
    ("string", "Zürich 東京 \x00 \U0001f600", "Zürich 東京  \U0001f600"),
    ("empty string", "", None),
    ("document", {"b": 1, "a": {"c": [1]}}, {"b": 1, "a": {"c": [1.0]}}),
    ("document with $-prefixed and dotted names", {"$x": 1, "a.b": 2, "$": 3}, {"$x": 1, "a": {"b": 2}, "$": 3}),
    ("empty document", {}, []),
    ("array", [1, "two", [3.0], {"k": None}], [1, "two", [3.0], {"k": Undefined()}, None]),
    ("empty array", [], {}),
    *[
        (f"binary subtype {s:#04x}", Binary(b"\x00\x01\xfe", s), Binary(b"\x00\x01\xfe", s ^ 1))
        for s in BINARY_SUBTYPES
    ],
    ("binary subtype 0 as bytes", b"raw", Binary(b"raw", 5)),
    ("binary subtype 2, old binary", Binary(b"\x05\x06", 2), Binary(b"\x05\x06", 0)),
    ("binary subtype 3, legacy UUID", Binary(UUID.bytes, 3), Binary(UUID.bytes, 4)),
    ("binary subtype 4, UUID (uuid.UUID)", UUID, Binary(UUID.bytes, 3)),
    ("binary subtype 0x80, user defined", Binary(b"x", 0x80), Binary(b"x", 0x81)),
    ("undefined (deprecated)", Undefined(), False),
    ("ObjectId", OID, str(OID)),
    ("boolean true", True, 1),
    ("boolean false", False, 0),
    ("date", dt.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC), dt.datetime(2024, 3, 1, tzinfo=UTC)),
    ("date before 1970", dt.datetime(1900, 1, 1, 0, 0, 0, 1000), dt.datetime(1900, 1, 1)),
    ("date in year 1", dt.datetime(1, 1, 1, tzinfo=UTC), DatetimeMS(_milliseconds(dt.datetime.min) - 1)),
    ("date in year 9999", dt.datetime(9999, 12, 31, 23, 59, 59, 999000), DatetimeMS(MAX_DATETIME_MS + 1)),
    ("date before year 1", DatetimeMS(-(2**62)), DatetimeMS(-(2**62) + 1)),
    ("date after year 9999", DatetimeMS(2**62), DatetimeMS(2**62 - 1)),
    ("date, most negative", DatetimeMS(-(2**63)), DatetimeMS(2**63 - 1)),
    ("null", None, {}),
    ("regex", Regex("^a.*z$", "imsx"), Regex("^a.*z$", "ims")),
    ("regex with no options", Regex("a", 0), "a"),
    ("DBPointer (deprecated)", DBPointer("invoices", OID), DBPointer("invoices", ObjectId(b"x" * 12))),
    ("JavaScript code", Code("function () { return 1; }"), "function () { return 1; }"),
    ("symbol (deprecated)", Symbol("sym"), Code("sym")),
    ("JavaScript code with scope", Code("f(x)", {"x": 1}), Code("f(x)", {"x": 2})),
    ("JavaScript code with empty scope", Code("f(x)", {}), Code("f(x)")),
    ("32-bit integer", -7, -7.0),
    ("64-bit integer", Int64(2**40 + 1), Int64(2**40)),
    ("64-bit integer, smallest", Int64(-(2**63)), Decimal128(str(-(2**63)))),
    ("timestamp", Timestamp(1_700_000_000, 7), Timestamp(1_700_000_000, 8)),
    ("Decimal128", Decimal128("-1.50"), Decimal128("-1.5")),
    ("Decimal128 NaN", Decimal128("NaN"), Decimal128("Infinity")),
    ("Decimal128 -Infinity", Decimal128("-Infinity"), Decimal128("Infinity")),
    ("Decimal128 -0", Decimal128("-0"), Decimal128("0")),
    ("Decimal128 exponent", Decimal128("1.000E+6000"), Decimal128("1E+6000")),
    ("min key", MinKey(), MaxKey()),
    ("max key", MaxKey(), None),
    ("DBRef", DBRef("clients", OID, "ledger", note="x"), DBRef("clients", OID, "ledger")),
    ("DBRef without database", DBRef("clients", 7), {"$ref": "clients", "$id": 7, "$db": "other"}),
]


@pytest.mark.parametrize(("bson_type", "value", "neighbour"), BSON_TYPES, ids=[row[0] for row in BSON_TYPES])
def test_every_bson_type_has_one_canonical_form(bson_type: str, value: Any, neighbour: Any) -> None:
    document = {"_id": 1, "v": value, "nested": {"in": [value]}}
    expected = canonical_bytes(source_side(document))
    for mode in MODES:
        assert table_bytes(document, mode) == expected, mode
    assert model(document, top=True) != model({**document, "v": neighbour}, top=True)
    assert document_hash(source_side({**document, "v": neighbour})) != document_hash(source_side(document))


@pytest.mark.parametrize("flag", list("ilmsux"))
def test_each_regex_flag_is_kept_and_counts(flag: str) -> None:
    document = {"r": Regex("^a", flag)}
    expected = canonical_bytes(source_side(document))
    assert canonical_bytes({"r": Regex("^a", re.RegexFlag(bson.regex.str_flags_to_int(flag)))}) == expected
    for mode in MODES:
        assert table_bytes(document, mode) == expected
    assert canonical_bytes({"r": Regex("^a")}) != expected


def test_regex_flags_are_their_letters_whatever_the_decoder_gave() -> None:
    forms = [Regex("a", "im"), Regex("a", 10), Regex("a", re.I | re.M), Regex("a", "mi")]
    forms.append(bson.decode(bson.encode({"r": Regex("a", "mi")}), codec_options=BSON_OPTIONS)["r"])
    forms.append(json_util.loads('{"r": {"$regex": "a", "$options": "mi"}}')["r"])
    encoded = {canonical_bytes({"r": form}) for form in forms}
    assert len(encoded) == 1
    assert encoded.pop().endswith(b"a\x00im")
    # a compiled str pattern has re.UNICODE: "u"
    assert canonical_bytes({"r": re.compile("a", re.I | re.M)}) == canonical_bytes({"r": Regex("a", "imu")})


def test_a_regex_flag_bson_does_not_have_is_refused() -> None:
    with pytest.raises(NoCanonicalForm, match="flags") as refused:
        document_hash({"x": {"r": Regex("a", re.ASCII)}})
    assert refused.value.path == "x.r"


def test_code_is_not_a_string_and_its_scope_counts() -> None:
    assert canonical_bytes({"c": Code("x")}) != canonical_bytes({"c": "x"})
    assert canonical_bytes({"c": Code("x")}) != canonical_bytes({"c": Code("x", {})})
    assert canonical_bytes({"c": Code("x", {"a": 1})}) != canonical_bytes({"c": Code("x", {"a": 2})})
    # the scope is a document: its field order does not count
    assert canonical_bytes({"c": Code("x", {"a": 1, "b": 2})}) == canonical_bytes({"c": Code("x", {"b": 2, "a": 1})})


def test_a_dbref_is_its_document() -> None:
    # bson.decode makes a DBRef of a sub-document {$ref, $id[, $db], ...}: the same document
    ref = DBRef("c", 1, "db", extra=2)
    assert canonical_bytes({"r": ref}) == canonical_bytes({"r": {"$ref": "c", "$id": 1, "$db": "db", "extra": 2}})
    assert canonical_bytes({"r": ref}) != canonical_bytes({"r": DBRef("c", 1, "db")})
    assert canonical_bytes({"r": DBRef("c", 1)}) != canonical_bytes({"r": DBRef("c", 1, "db")})
    # a DBPointer is read as a DBRef by both sides
    pointer = source_side({"p": DBPointer("c", OID)})["p"]
    assert pointer == DBRef("c", OID)
    assert (
        parse_extended_json(f'{{"p": {{"$dbPointer": {{"$ref": "c", "$id": {{"$oid": "{OID}"}}}}}}}}')["p"] == pointer
    )


def test_dates_outside_datetime_are_milliseconds_like_any_date() -> None:
    in_range = dt.datetime(1, 1, 1)
    assert canonical_bytes({"d": DatetimeMS(in_range)}) == canonical_bytes({"d": in_range})
    far = source_side({"d": DatetimeMS(2**62)})["d"]
    assert isinstance(far, DatetimeMS)
    assert parse_extended_json('{"d": {"$date": {"$numberLong": "4611686018427387904"}}}')["d"] == far
    assert canonical_bytes({"d": far}).endswith(b"D" + struct.pack(">q", 2**62))


def test_a_uuid_is_binary_subtype_4() -> None:
    assert canonical_bytes({"u": UUID}) == canonical_bytes({"u": Binary(UUID.bytes, 4)})
    assert canonical_bytes({"u": UUID}) == canonical_bytes({"u": Binary.from_uuid(UUID)})
    assert canonical_bytes({"u": UUID}) != canonical_bytes(
        {"u": Binary.from_uuid(UUID, UuidRepresentation.JAVA_LEGACY)}
    )


# -- sub-documents that look like Extended JSON -----------------------------------------

NOT_WRAPPERS = [
    {"$oid": "not-an-oid"},
    {"$oid": "5f1d7a2e9c3b4a0012345678", "x": 1},
    {"$date": "garbage"},
    {"$date": 5.5},
    {"$date": {"$numberDouble": "5.0"}},
    {"$date": True},
    {"$numberLong": "5x"},
    {"$numberLong": 5},
    {"$numberInt": "1.5"},
    {"$numberDouble": 1.5},
    {"$numberDecimal": "twelve"},
    {"$binary": {"base64": "A", "subType": "00"}},
    {"$binary": {"base64": "AA==", "subType": "100"}},
    {"$binary": "AA==", "$type": "zz"},
    {"$uuid": "nope"},
    {"$regularExpression": {"pattern": "a"}},
    {"$regex": {"$in": ["a"]}},
    {"$regex": "a", "$options": "i", "note": 1},
    {"$timestamp": {"t": -1, "i": 0}},
    {"$timestamp": {"t": True, "i": 0}},
    {"$code": 5},
    {"$code": "x", "$scope": 5},
    {"$code": "x", "$other": {}},
    {"$symbol": 5},
    {"$symbol": "s", "x": 1},
    {"$undefined": 1},
    {"$undefined": True, "note": "kept"},
    {"$minKey": 2},
    {"$minKey": True},
    {"$maxKey": "1"},
    {"$dbPointer": {"$ref": "c", "$id": 1}},
    {"$ref": 5, "$id": 1},
    {"$ref": "c"},
    {"$ref": "c", "$id": 1, "$db": 5},
    {"$id": 1, "$db": "d"},
    {"$type": "string"},
    {"$foo": 1, "$bar": {"$baz": 2}},
]


@pytest.mark.parametrize("body", NOT_WRAPPERS, ids=[json_util.dumps(b) for b in NOT_WRAPPERS])
def test_a_sub_document_that_is_not_a_wrapper_stays_a_document(body: dict) -> None:
    document = {"_id": 1, "x": body, "deep": [{"y": body}]}
    text = json_util.dumps(document, json_options=MODES["canonical"])
    parsed = parse_extended_json(text)
    assert type(parsed["x"]) is dict
    assert canonical_bytes(parsed) == canonical_bytes(source_side(document))
    for mode in MODES:
        assert table_bytes(document, mode) == canonical_bytes(source_side(document))


WRAPPERS = [
    ({"$numberLong": "5"}, Int64(5)),
    ({"$numberInt": "5"}, 5),
    ({"$numberDouble": "-0.0"}, -0.0),
    ({"$numberDecimal": "1.50"}, Decimal128("1.50")),
    ({"$oid": str(OID)}, OID),
    ({"$date": "2024-02-29T23:59:59.999Z"}, dt.datetime(2024, 2, 29, 23, 59, 59, 999000)),
    ({"$date": {"$numberLong": "-1"}}, dt.datetime(1969, 12, 31, 23, 59, 59, 999000)),
    ({"$date": -1}, dt.datetime(1969, 12, 31, 23, 59, 59, 999000)),
    ({"$binary": {"base64": "AQI=", "subType": "80"}}, Binary(b"\x01\x02", 0x80)),
    ({"$binary": "AQI=", "$type": "00"}, b"\x01\x02"),
    ({"$uuid": str(UUID)}, Binary(UUID.bytes, 4)),
    ({"$regularExpression": {"pattern": "a", "options": "ix"}}, Regex("a", "ix")),
    ({"$regex": "a", "$options": "ix"}, Regex("a", "ix")),
    ({"$timestamp": {"t": 1, "i": 2}}, Timestamp(1, 2)),
    ({"$code": "x"}, Code("x")),
    ({"$code": "x", "$scope": {"a": 1}}, Code("x", {"a": 1})),
    ({"$symbol": "s"}, "s"),
    ({"$undefined": True}, None),
    ({"$minKey": 1}, MinKey()),
    ({"$maxKey": 1}, MaxKey()),
    ({"$minKey": Int64(1)}, MinKey()),  # {"$minKey": {"$numberLong": "1"}}: 1 in relaxed JSON
    ({"$ref": "c", "$id": 1}, DBRef("c", 1)),
    ({"$ref": "c", "$id": 1, "$db": None, "$x": 2}, DBRef("c", 1, None, {"$x": 2})),
]


@pytest.mark.parametrize(("body", "typed"), WRAPPERS, ids=[json_util.dumps(b) for b, _ in WRAPPERS])
def test_a_sub_document_that_spells_a_value_is_that_value(body: dict, typed: Any) -> None:
    # MongoDB can hold the sub-document; its Extended JSON cannot be told from the
    # value's: both sides compare it as the value.
    assert canonical_bytes({"x": body}) == canonical_bytes({"x": typed})
    assert canonical_bytes(source_side({"x": body})) == canonical_bytes({"x": typed})
    for mode in MODES:
        assert table_bytes({"x": body}, mode) == canonical_bytes({"x": typed})


def test_the_document_itself_is_never_read_as_a_wrapper() -> None:
    # bson.decode never reads the document itself as a value: nor does the table side
    for text in ['{"$numberLong": "5"}', '{"$ref": "c", "$id": 1, "_id": 2}', '{"_id": 1, "$undefined": true}']:
        assert parse_extended_json(text) == json.loads(text)
    assert parse_extended_json('{"a": {"$numberLong": "5"}, "$date": {"$numberLong": "1"}}') == {
        "a": Int64(5),
        "$date": Int64(1),
    }


def test_the_wrapper_names_are_json_utils() -> None:
    assert _WRAPPER_NAMES == json_util._PARSERS_SET


unprefixed_names = plain_names.filter(lambda name: not name.startswith("$"))
# Every BSON type, but no $-prefixed field name of MongoDB's own: valid Extended JSON.
valid_extended_json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(unprefixed_names, children, max_size=4),
        st.builds(Code, texts, st.dictionaries(unprefixed_names, children, max_size=3)),
        st.builds(DBRef, cstrings, children, st.none() | cstrings),
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None, **DERANDOMIZED)
@given(document=st.dictionaries(unprefixed_names, valid_extended_json_values, min_size=1, max_size=8))
def test_valid_extended_json_reads_as_json_util_reads_it(document: dict) -> None:
    for mode in MODES:
        text = json_util.dumps(json_form(document), json_options=MODES[mode])
        # (repr: the same types and values, and NaN is NaN)
        assert repr(parse_extended_json(text)) == repr(json_util.loads(text, json_options=JSON_OPTIONS))


# -- what has no canonical form says where it is ----------------------------------------


@pytest.mark.parametrize(
    ("document", "path", "reason"),
    [
        ({"invoice": {"lines": [{}, {}, {"x": 1j}]}}, "invoice.lines[2].x", "complex"),
        ({"a": {"b.c": "\ud800"}}, 'a["b.c"]', "not valid Unicode"),
        ({"a": [{1: "x"}]}, "a[0]", "field name of type int"),
        ({"a": Code("f", {"s": {1, 2}})}, "a.$scope.s", "set"),
        ({"a": DBRef("c", dt.date(2024, 1, 1))}, "a.$id", "date"),
        ({"a": {"$oid": bytearray(b"x")}}, "a.$oid", "bytearray"),
        ({"a": Regex("x", re.ASCII)}, "a", "flags"),
    ],
)
def test_a_value_with_no_canonical_form_is_refused_with_its_path(document: dict, path: str, reason: str) -> None:
    with pytest.raises(NoCanonicalForm, match=reason) as refused:
        document_hash(document)
    assert refused.value.path == path
    assert isinstance(refused.value, ValueError)
    assert str(refused.value).startswith(path)
    with pytest.raises(NoCanonicalForm):
        canonical_bytes(document)


def test_the_refusal_survives_pickling() -> None:
    refusal = pickle.loads(pickle.dumps(NoCanonicalForm("a.b[1]", "a value of type set")))
    assert (refusal.path, refusal.reason, str(refusal)) == (
        "a.b[1]",
        "a value of type set",
        "a.b[1]: a value of type set",
    )


# -- (c) the table side's fast reading is the definition's ----------------------------
#
# Reconciliation hashes a table row straight from its text (``extended_json_bytes``),
# without building bson values. It must give the definition's bytes for every text, also
# for text no writer of Extended JSON produces: near-wrappers, any number spelling, any
# date string. And where the definition refuses, it refuses the same way.


def _same_as_the_definition(text: str) -> None:
    try:
        expected: bytes | str = canonical_bytes(parse_extended_json(text))
    except NoCanonicalForm as refusal:
        expected = f"refused: {refusal}"
    try:
        fast: bytes | str = extended_json_bytes(text)
    except NoCanonicalForm as refusal:
        fast = f"refused: {refusal}"
    assert fast == expected, text


# Strings for each wrapper the fast reading knows: what Python's readers accept beyond
# the spec (signs, spaces, underscores, other digits), the edges of its shortcuts.
NUMBER_TEXTS = [
    *("0", "1", "-1", "+5", " 5 ", "5_000", "\u0665", "1.5", "1e3", "0x10", "", "-9223372036854775809"),
    *("99999999999999999999999", "NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "-0.0"),
    *("0.0", "1E-320", ".5", "5.", "1_0.5"),
]
DECIMAL_TEXTS = [
    *("0", "-0", "0.0", "-0.00", "0.000001", "0.0000001", "1.1234567", "00.5", "01", "-01.5", "1.50"),
    *("12.500000", "1234567890123456789", "12345678901234567890", "1234567890123456789.123456", "1.5E3"),
    *("1e-7", "NaN", "-Infinity", "Inf", "-0E+3", "+1", "1_0", "\u0661.5", "9999999999999999999999999999999999"),
    *("", " 1"),
]
OBJECT_ID_TEXTS = [
    "5f1d7a2e9c3b4a0012345678",
    "5F1D7A2E9C3B4A0012345678",
    "5f1d7a2e9c3b4a001234567",
    "5f1d7a2e9c3b4a00123456789",
    "5f1d7a2e9c3b4a001234567g",
    "5f 1d7a2e9c3b4a00123456 ",
    "\u0665" * 24,
    "",
]
DATE_TEXTS = [
    "2024-02-29T23:59:59.999Z",
    "2023-02-29T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T23:59:60Z",
    "2024-13-01T00:00:00Z",
    "2024-1-1T1:2:3Z",
    "2024-01-01T00:00:00.Z",
    "2024-01-01T00:00:00.1Z",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01T00:00:00.9999999Z",
    "2024-01-01T00:00:00.999999999999Z",
    "2024-01-01T00:00:00+01:00",
    "2024-01-01T00:00:00.5-0130",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00Z",
    "\u0662024-01-01T00:00:00Z",
    "",
]
MILLISECONDS = [
    0,
    -1,
    1,
    -62135596800000,  # 0001-01-01, the first date datetime holds
    -62135596800001,
    253402300799999,  # 9999-12-31T23:59:59.999, the last
    253402300800000,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
]


def _wrapped(body: Any) -> str:
    # in a document, in an array, in a sub-document of an array
    return json.dumps({"_id": 1, "x": body, "a": [body, {"y": body}]})


@pytest.mark.parametrize("name", ["$numberInt", "$numberLong", "$numberDouble"])
def test_number_spellings_read_as_the_definition_reads_them(name: str) -> None:
    for text in NUMBER_TEXTS:
        _same_as_the_definition(_wrapped({name: text}))
    _same_as_the_definition(_wrapped({name: 5}))


def test_decimal_spellings_read_as_the_definition_reads_them() -> None:
    for text in DECIMAL_TEXTS:
        _same_as_the_definition(_wrapped({"$numberDecimal": text}))


@settings(max_examples=500, deadline=None, **DERANDOMIZED)
@given(
    digits=st.integers(0, 10**25),
    places=st.integers(0, 8),
    negative=st.booleans(),
)
def test_plain_decimals_are_written_as_their_str(digits: int, places: int, negative: bool) -> None:
    text = ("-" if negative else "") + (
        f"{digits // 10**places}.{digits % 10**places:0{places}d}" if places else str(digits)
    )
    _same_as_the_definition(_wrapped({"$numberDecimal": text}))


def test_object_id_spellings_read_as_the_definition_reads_them() -> None:
    for text in OBJECT_ID_TEXTS:
        _same_as_the_definition(_wrapped({"$oid": text}))


def test_date_spellings_read_as_the_definition_reads_them() -> None:
    for text in DATE_TEXTS:
        _same_as_the_definition(_wrapped({"$date": text}))
    for milliseconds in MILLISECONDS:
        _same_as_the_definition(_wrapped({"$date": {"$numberLong": str(milliseconds)}}))
        _same_as_the_definition(_wrapped({"$date": milliseconds}))


def test_every_millisecond_fraction_reads_as_the_definition_reads_it() -> None:
    # The fraction goes through a float in json_util: each of the 1,000 is checked.
    for millisecond in range(1000):
        _same_as_the_definition(_wrapped({"$date": f"2024-06-30T12:34:56.{millisecond:03d}Z"}))


@settings(max_examples=500, deadline=None, **DERANDOMIZED)
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
def test_iso_dates_read_as_the_definition_reads_them(date: dt.datetime) -> None:
    for text in (date.strftime("%Y-%m-%dT%H:%M:%S") + suffix for suffix in ("Z", f".{date.microsecond:06d}Z")):
        _same_as_the_definition(_wrapped({"$date": text}))


# Any JSON, near-wrappers most of all: the fast reading knows six shapes and must leave
# every other one to the definition.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from(NUMBER_TEXTS + DECIMAL_TEXTS + OBJECT_ID_TEXTS + DATE_TEXTS),
)
wrapper_names = st.sampled_from(sorted(_WRAPPER_NAMES | {"$id", "$db", "$scope", "$options", "$type"}))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(wrapper_names, plain_names), children, max_size=3),
        st.builds(lambda name, value: {name: value}, wrapper_names, children),
        _wrapper_bodies(children).map(json_form).map(lambda body: json.loads(json_util.dumps(body))),
    ),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], **DERANDOMIZED)
@given(document=st.dictionaries(st.one_of(wrapper_names, plain_names), json_values, max_size=6))
def test_any_json_reads_as_the_definition_reads_it(document: dict) -> None:
    _same_as_the_definition(json.dumps(document))
    _same_as_the_definition(json.dumps(document, indent=1, ensure_ascii=False))


def test_text_the_fast_parser_refuses_reads_as_the_definition_reads_it() -> None:
    # NaN and Infinity literals, lone surrogates, huge exponents, duplicate names
    for text in [
        '{"_id": 1, "x": NaN, "y": -Infinity}',
        '{"_id": 1, "x": "\\ud800"}',
        '{"_id": 1, "x": 1e400}',
        '{"_id": 1, "x": 1, "x": {"$numberLong": "2"}}',
        '{"$numberLong": "5"}',
        '{"_id": {"$oid": "5f1d7a2e9c3b4a0012345678"}, "$date": {"$numberLong": "1"}}',
    ]:
        _same_as_the_definition(text)


@pytest.mark.parametrize(
    "key",
    [OID, "", "1", 1, Int64(2**40), 1.5, Decimal128("1.50"), Binary(UUID.bytes, 4), {"b": 1, "a": {"$oid": "x"}}],
    ids=repr,
)
def test_a_document_without_its_id_gets_the_restored_one(key: Any) -> None:
    text = '{"amount": {"$numberDecimal": "1.50"}}'
    expected = canonical_bytes({"_id": key, **parse_extended_json(text)})
    assert extended_json_bytes(text, missing_id=lambda: key) == expected
    assert extended_json_hash(text, missing_id=lambda: key) == document_hash({"_id": key, "amount": Decimal128("1.50")})
