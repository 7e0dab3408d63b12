"""The one definition of "the same document" (rules in docs/canonical-form.md).

Both sides reduce a document to these canonical bytes and hash them: the MongoDB side
from BSON decoded by ``bson`` with ``BSON_OPTIONS``, the Iceberg side from the ``_doc``
Extended JSON read with ``parse_extended_json``. Every value is written as a type tag plus
an unambiguous payload, so two documents have equal bytes exactly when the rules call
them the same. Every BSON type has a form; a value that has none (a Python type that is
not BSON, a string that is not Unicode) raises ``NoCanonicalForm``, naming its field.

Extended JSON cannot tell a sub-document such as ``{"$numberLong": "5"}`` from the value
it spells, so a sub-document with Extended JSON field names is compared as what
``parse_extended_json`` reads its Extended JSON as, on both sides.

Reconciliation hashes every document of a collection, so the encoder is written for
speed (bench/hash_benchmark.py) without changing a byte of its output:

- values dispatch on their exact type: the common ones inline, the rest through a table;
  any other type, subclasses included, goes through the rules in their isinstance order;
- a dict's sorted, encoded field names are worked out once per set of names (its
  layout), with whether any of them is an Extended JSON name: the documents of a
  collection share a handful of layouts, and only those names pay for the check;
- Decimal128 amounts skip ``str(Decimal128)``, which builds its digits in Python;
- the output is a list of byte strings, joined once;
- nothing tracks where a value is: when encoding fails, the document is walked again,
  slowly, to name the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import struct
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import JSONOptions
from bson.tz_util import utc as BSON_UTC

# How both sides decode. Dates come out as naive datetimes, which are UTC (BSON dates are
# UTC): the canonical form does not care, and not building a tzinfo per date makes
# decoding about 10% faster (bench/hash_benchmark.py). A date Python's datetime cannot
# hold (before year 1, after 9999) comes out as a DatetimeMS instead of failing.
# Binary subtypes 3 and 4 stay Binary (uuid_representation UNSPECIFIED, the default).
BSON_OPTIONS = CodecOptions(tz_aware=False, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
JSON_OPTIONS = JSONOptions(tz_aware=False, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAN = struct.pack(">d", math.nan)

Out = list[bytes]  # the canonical bytes, in pieces
Encoder = Callable[[Any, Out], None]


class NoCanonicalForm(ValueError):
    """A value the canonical form has no form for. ``path`` names it in the document
    (``invoice.lines[2].x``; ``""`` for the document itself), ``reason`` says what it is;
    the caller adds the collection and the key."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '(the document)'}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable (Spark, multiprocessing)
        return type(self), (self.path, self.reason)


class _Refused(Exception):
    """Raised by an encoder for a value it has no form for; the reason, without a path."""


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical encoding of a whole document."""
    out: Out = []
    try:
        _document(document, out, True)
    except Exception as error:
        raise _refusal(document, error) from error
    return b"".join(out)


def document_hash(document: Mapping[str, Any]) -> bytes:
    """A 128-bit digest of the canonical bytes."""
    out: Out = []
    try:
        _document(document, out, True)
    except Exception as error:
        raise _refusal(document, error) from error
    return hashlib.blake2b(b"".join(out), digest_size=16).digest()


def extended_json_hash(text: str, missing_id: Callable[[], Any] | None = None) -> bytes:
    """The hash of a document given as Extended JSON (canonical, relaxed or legacy):
    ``document_hash(parse_extended_json(text))``, faster (``extended_json_bytes``).
    ``missing_id`` gives the ``_id`` of a document whose text has none."""
    return hashlib.blake2b(extended_json_bytes(text, missing_id), digest_size=16).digest()


_TAGGED_LENGTH = struct.Struct(">cI").pack  # a type tag and a 4-byte big-endian length
_LENGTH = struct.Struct(">I").pack
_SHORT = 256  # payloads shorter than this take their tag and length from a table


def _short_headers(tag: bytes) -> tuple[bytes, ...]:
    """Tag and length of short payloads, by length: indexing is cheaper than packing."""
    return tuple(_TAGGED_LENGTH(tag, size) for size in range(_SHORT))


_STRING_HEADERS = _short_headers(b"s")
_INTEGER_HEADERS = _short_headers(b"i")
_DECIMAL_HEADERS = _short_headers(b"m")
_ARRAY_HEADERS = _short_headers(b"[")

# -- Extended JSON ----------------------------------------------------------------------

# The field names that make json_util read a JSON object as a typed value (its wrappers).
# A document with none of them reads as a document; tests check the list against bson's.
_WRAPPER_NAMES = frozenset(
    {
        "$binary",
        "$code",
        "$date",
        "$dbPointer",
        "$maxKey",
        "$minKey",
        "$numberDecimal",
        "$numberDouble",
        "$numberInt",
        "$numberLong",
        "$oid",
        "$ref",
        "$regex",
        "$regularExpression",
        "$symbol",
        "$timestamp",
        "$undefined",
        "$uuid",
    }
)
_INTEGERS = (int, Int64)  # exactly these types: a bool is not a number in a wrapper


def parse_extended_json(text: str) -> dict[str, Any]:
    """A document from its Extended JSON (canonical, relaxed or legacy), as
    ``json_util.loads(text, json_options=JSON_OPTIONS)`` reads it, except that:

    - a sub-document is read as a typed value only when it has the shape the Extended
      JSON spec gives that type (``{"$oid": <string>}``, ``{"$date": <string or
      integer>}``, ...); any other sub-document, ``{"$oid": "not-an-oid"}`` or
      ``{"$date": 5.5}`` or ``{"$undefined": true, "note": 1}``, stays a document, where
      json_util raises or reads it by dropping part of it;
    - a sub-document is a DBRef exactly when bson.decode makes one of it (a string
      ``$ref``, an ``$id``, and a ``$db`` that is a string or null, whatever else);
    - the document itself is never read as a typed value (bson.decode never does).

    Formatting within a type is as lenient as json_util: the writer of ``_doc`` is not
    Python.
    """
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    document = _DECODER.decode(text)
    if type(document) is not dict:
        # The document itself read as a wrapper (rare): read it again, keeping its top.
        pairs = _PAIRS_DECODER.decode(text)
        if type(pairs) is not _Pairs:
            raise ValueError(f"not a JSON object: {text[:40]!r}")
        document = {name: _read_pairs(value) for name, value in pairs}
    return document


def _read_wrapper(document: dict[str, Any]) -> Any:
    """The object hook: a JSON object (its values already read) as its typed value."""
    if _WRAPPER_NAMES.isdisjoint(document):
        return document
    if len(document) == 1:
        for name, value in document.items():
            single = _SINGLE.get(name)
            if single is not None:
                try:
                    return single(value, document)
                except Exception:
                    return document
    ref = document.get("$ref")
    if isinstance(ref, str) and "$id" in document and isinstance(document.get("$db"), (str, type(None))):
        extra = dict(document)  # as bson.decode: the other fields are the DBRef's own
        return DBRef(extra.pop("$ref"), extra.pop("$id"), extra.pop("$db", None), extra)
    try:
        if "$code" in document:  # {"$code": <string>, "$scope": <document>}
            scope = document.get("$scope")
            if type(document["$code"]) is str and len(document) == 2 and isinstance(scope, Mapping):
                return Code(document["$code"], scope)
        elif "$binary" in document:  # legacy {"$binary": <base64>, "$type": <hex or int>}
            kind = document.get("$type")
            if (
                len(document) == 2
                and type(document["$binary"]) is str
                and (type(kind) is str or type(kind) in _INTEGERS)
            ):
                return json_util.object_hook(dict(document), JSON_OPTIONS)  # a copy: it rewrites $type
        elif "$regex" in document:  # legacy {"$regex": <string>, "$options": <string>}
            options = document.get("$options")
            if len(document) == 2 and type(document["$regex"]) is str and type(options) is str:
                return json_util.object_hook(document, JSON_OPTIONS)
    except Exception:
        pass
    return document


def _from_string(parse: Callable[[str], Any]) -> Callable[[Any, dict[str, Any]], Any]:
    def read(value: Any, document: dict[str, Any]) -> Any:
        return parse(value) if type(value) is str else document

    return read


def _date(value: Any, document: dict[str, Any]) -> Any:
    # a string (ISO 8601, relaxed) or an integer (canonical {"$numberLong"}, legacy)
    if type(value) is str or type(value) in _INTEGERS:
        return json_util.object_hook(document, JSON_OPTIONS)
    return document


def _by_json_util(check: Callable[[Any], bool]) -> Callable[[Any, dict[str, Any]], Any]:
    def read(value: Any, document: dict[str, Any]) -> Any:
        return json_util.object_hook(document, JSON_OPTIONS) if check(value) else document

    return read


def _key(kind: type) -> Callable[[Any, dict[str, Any]], Any]:
    def read(value: Any, document: dict[str, Any]) -> Any:
        # 1 as int32 or int64: {"$numberLong": "1"} and 1 are one number in every mode
        return kind() if type(value) in _INTEGERS and value == 1 else document

    return read


def _fields(*names: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return type(value) is dict and len(value) == len(names) and all(name in value for name in names)

    return check


def _is_str(value: Any) -> bool:
    return type(value) is str


_TIME_AND_INCREMENT = _fields("t", "i")
_PATTERN_AND_OPTIONS = _fields("pattern", "options")
_BASE64_AND_SUBTYPE = _fields("base64", "subType")


def _timestamp_fields(value: Any) -> bool:
    return _TIME_AND_INCREMENT(value) and type(value["t"]) in _INTEGERS and type(value["i"]) in _INTEGERS


def _regex_fields(value: Any) -> bool:
    return _PATTERN_AND_OPTIONS(value) and type(value["pattern"]) is str and type(value["options"]) is str


def _binary_fields(value: Any) -> bool:
    return _BASE64_AND_SUBTYPE(value) and type(value["base64"]) is str and type(value["subType"]) is str


# Wrappers of one field: the value's shape, then json_util's own reading of it.
_SINGLE: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "$oid": _from_string(ObjectId),
    "$numberInt": _from_string(int),
    "$numberLong": _from_string(Int64),
    "$numberDouble": _from_string(float),
    "$numberDecimal": _from_string(Decimal128),
    "$date": _date,
    "$symbol": _from_string(str),
    "$uuid": _by_json_util(_is_str),
    "$binary": _by_json_util(_binary_fields),
    "$regularExpression": _by_json_util(_regex_fields),
    "$timestamp": _by_json_util(_timestamp_fields),
    "$dbPointer": _by_json_util(lambda value: isinstance(value, DBRef)),
    "$code": _by_json_util(_is_str),
    "$regex": _by_json_util(_is_str),
    "$undefined": lambda value, document: None if value is True else document,
    "$minKey": _key(MinKey),
    "$maxKey": _key(MaxKey),
}
_DECODER = json.JSONDecoder(object_hook=_read_wrapper)


class _Pairs(list):
    """A JSON object's fields, unread (for a document whose top reads as a wrapper)."""


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs)


def _read_pairs(value: Any) -> Any:
    if type(value) is _Pairs:
        return _read_wrapper({name: _read_pairs(child) for name, child in value})
    if type(value) is list:
        return [_read_pairs(child) for child in value]
    return value


# Writing a value as Extended JSON to read it back: canonical (every type kept), and
# uuid.UUID as Binary subtype 4 (bson would refuse it otherwise).
_WRITE_OPTIONS = json_util.CANONICAL_JSON_OPTIONS.with_options(uuid_representation=UuidRepresentation.STANDARD)


def _as_extended_json(value: Any) -> Any:
    """What the table side reads where the source holds ``value``: its Extended JSON,
    read back."""
    return parse_extended_json(json_util.dumps({"v": value}, json_options=_WRITE_OPTIONS))["v"]


# -- Extended JSON straight to canonical bytes --------------------------------------------
#
# The table side hashes every row's Extended JSON. Reading it with ``parse_extended_json``
# builds a bson value for every wrapper through a Python hook (about 45 us of a demo
# document's 60). Instead, msgspec parses the text to plain JSON values (in C, about 7
# us), which are bson's own values but for the wrappers, and the one encoder walks them:
# a wrapper is a sub-document with a wrapper name, which the encoder already compares as
# what its Extended JSON reads as (``_wrapper_document``), on both sides. The six
# wrappers documents are made of ($oid, $numberInt, $numberLong, $numberDouble,
# $numberDecimal, $date) are written there straight when they have their exact shape;
# any other shape is read as before. A text msgspec refuses (NaN, lone surrogates) goes
# through the definition whole. Tests prove the bytes equal the definition's for every
# BSON type in every Extended JSON mode and for any JSON
# (tests/python/test_canonical_bson_spec.py).

_JSON_DECODE = msgspec.json.Decoder().decode
_INT64 = 2**63
# Decimal128 text that ``str(Decimal128(text))`` writes back unchanged: no leading zero,
# at most 6 decimal places (plain notation), at most 25 digits (no rounding).
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,18})(?:\.[0-9]{1,6})?")


def extended_json_bytes(text: str, missing_id: Callable[[], Any] | None = None) -> bytes:
    """``canonical_bytes(parse_extended_json(text))`` (with ``_id`` from ``missing_id``
    when the text has none), without building the bson values: the JSON values msgspec
    reads are already bson's, but for the wrappers, which ``_wrapper_document`` writes."""
    try:
        document = _JSON_DECODE(text)
        if type(document) is dict:
            out: Out = []
            _document(_with_id(document, missing_id), out, True)
            return b"".join(out)
    except Exception:
        pass  # msgspec refused the text, or the walk a value: the definition decides, naming the field
    return canonical_bytes(_with_id(parse_extended_json(text), missing_id))


def _with_id(document: dict[str, Any], missing_id: Callable[[], Any] | None) -> dict[str, Any]:
    if missing_id is not None and "_id" not in document:
        document["_id"] = missing_id()  # where in the document is not content
    return document


# Each writes its wrapper's value and returns True, or returns False when the value is not
# the exact shape it knows (the reading then decides). Each reads its text with the call
# ``_SINGLE`` makes.
def _write_object_id(value: Any, out: Out) -> bool:
    if type(value) is not str or len(value) != 24:
        return False
    try:
        data = bytes.fromhex(value)  # as ObjectId(value) checks it: 24 hex digits, no spaces
    except ValueError:
        return False
    if len(data) != 12:
        return False
    out.append(b"o")
    out.append(data)
    return True


def _write_integer(value: Any, out: Out) -> bool:
    if type(value) is not str:
        return False
    try:
        data = b"%d" % int(value)
    except ValueError:
        return False
    size = len(data)
    out.append(_INTEGER_HEADERS[size] if size < _SHORT else _TAGGED_LENGTH(b"i", size))
    out.append(data)
    return True


def _write_double(value: Any, out: Out) -> bool:
    if type(value) is not str:
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    out.append(_TAGGED_NAN if number != number else _TAGGED_DOUBLE(b"d", number))
    return True


def _write_decimal(value: Any, out: Out) -> bool:
    if type(value) is not str or not _PLAIN_DECIMAL.fullmatch(value):
        return False
    data = value.encode()
    out.append(_DECIMAL_HEADERS[len(data)])
    out.append(data)
    return True


def _write_date(value: Any, out: Out) -> bool:
    # canonical {"$date": {"$numberLong": "<milliseconds>"}}, or relaxed {"$date":
    # "<ISO 8601 in UTC>"}; other forms (offsets, legacy integers) are read
    if type(value) is str:
        return _write_iso_date(value, out)
    if type(value) is not dict or len(value) != 1 or type(value.get("$numberLong")) is not str:
        return False
    try:
        milliseconds = int(value["$numberLong"])
    except ValueError:
        return False
    if not -_INT64 <= milliseconds < _INT64:
        return False
    out.append(_TAGGED_MILLISECONDS(b"D", milliseconds))
    return True


# What json_util writes for a date in 1970-9999, and reads with strptime (which accepts
# more: what it accepts beyond this is read).
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?Z")


def _write_iso_date(value: str, out: Out) -> bool:
    match = _ISO_DATE.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second, fraction = match.groups()
    # the fraction as json_util computes it: through a float, truncated to microseconds
    microsecond = int(float(fraction) * 1000000) if fraction else 0
    try:
        date = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond)
    except ValueError:  # not a date (json_util's strptime refuses it too), or a fraction of 1 s
        return False
    _datetime(date, out)
    return True


_WRAPPER_WRITERS: dict[str, Callable[[Any, Out], bool]] = {
    "$oid": _write_object_id,
    "$numberInt": _write_integer,
    "$numberLong": _write_integer,
    "$numberDouble": _write_double,
    "$numberDecimal": _write_decimal,
    "$date": _write_date,
}


# -- documents and arrays ---------------------------------------------------------------

# header, (name, encoded name) in order, whether a name is an Extended JSON wrapper name
Layout = tuple[bytes, tuple[tuple[str, bytes], ...], bool]
_LAYOUTS: dict[tuple[str, ...], Layout] = {}
_MAX_LAYOUTS = 10_000  # field names that are data would grow the cache without end


def _document(document: Mapping[str, Any], out: Out, top: bool = False) -> None:
    # Field order is not content: MongoDB updates may reorder fields. ``top``: the
    # document itself, or one already read as Extended JSON, is never read as a wrapper.
    if type(document) is not dict:
        _mapping(document, out, top)
        return
    names = tuple(document)
    # (A str subclass name equal to a plain one finds the plain name's layout: the same
    # bytes unless it overrides encode(). pymongo and json_util only make plain str.)
    layout = _LAYOUTS.get(names) or _layout(names)
    if layout is None:
        _mapping(document, out, top)
        return
    header, fields, wrapper = layout
    if wrapper and not top:
        _wrapper_document(document, out)
        return
    append = out.append
    append(header)
    for name, encoded_name in fields:
        append(encoded_name)
        value = document[name]
        kind = type(value)
        # The commonest types inline (a call costs as much as encoding them), each exactly
        # as its encoder below writes it.
        if kind is str:
            data = value.encode()
            size = len(data)
            append(_STRING_HEADERS[size] if size < _SHORT else _TAGGED_LENGTH(b"s", size))
            append(data)
        elif kind is dict:  # sub-documents, and in Extended JSON read by msgspec, wrappers
            _document(value, out)
        elif kind is Decimal128:
            _decimal128(value, out)
        elif kind is int:
            data = b"%d" % value
            size = len(data)
            append(_INTEGER_HEADERS[size] if size < _SHORT else _TAGGED_LENGTH(b"i", size))
            append(data)
        elif kind is ObjectId:
            append(b"o")
            append(value.binary)
        elif kind is dt.datetime:
            _datetime(value, out)
        elif kind is float:
            append(_TAGGED_NAN if value != value else _TAGGED_DOUBLE(b"d", value))
        else:
            (_ENCODERS.get(kind) or _encoder_of(value))(value, out)


def _layout(names: tuple[str, ...]) -> Layout | None:
    """The header, the sorted, encoded field names and the wrapper flag of dicts with
    these field names; None unless all are plain str (a subclass may encode or compare
    its own way)."""
    if not all(type(name) is str for name in names):
        return None
    # Code point order is UTF-8 byte order, so plain str names sort without encoding.
    fields = tuple((name, _encoded_name(name)) for name in sorted(names))
    layout = (_TAGGED_LENGTH(b"{", len(fields)), fields, not _WRAPPER_NAMES.isdisjoint(names))
    if len(_LAYOUTS) < _MAX_LAYOUTS:
        _LAYOUTS[names] = layout
    return layout


def _encoded_name(name: str) -> bytes:
    data = name.encode()
    return _TAGGED_LENGTH(b"k", len(data)) + data


def _mapping(document: Mapping[str, Any], out: Out, top: bool = False) -> None:
    """Any other mapping (RawBSONDocument, SON, a dict subclass, names that are not plain
    str), by the rule as written: fields sorted by the UTF-8 bytes of their names."""
    if not top and not _WRAPPER_NAMES.isdisjoint(document):
        _wrapper_document(document, out)
        return
    items = sorted(document.items(), key=lambda item: item[0].encode())
    out.append(_TAGGED_LENGTH(b"{", len(items)))
    for name, value in items:
        out.append(_encoded_name(name))
        (_ENCODERS.get(type(value)) or _encoder_of(value))(value, out)


def _wrapper_document(document: Mapping[str, Any], out: Out) -> None:
    """A sub-document with an Extended JSON wrapper name: as what its Extended JSON reads
    as (the table side cannot tell ``{"$numberLong": "5"}`` from 5). The six wrappers
    documents are made of are written straight when they have their exact shape."""
    if len(document) == 1:
        [(name, value)] = document.items()
        write = _WRAPPER_WRITERS.get(name)
        if write is not None and write(value, out):
            return
    _document(document, [], True)  # every value has a form (Extended JSON would write a set as an array)
    value = _as_extended_json(document)
    if type(value) is dict:
        _document(value, out, True)
    elif type(value) is Code:
        _code(value, out, True)
    else:
        (_ENCODERS.get(type(value)) or _encoder_of(value))(value, out)


def _array(array: Sequence[Any], out: Out) -> None:
    size = len(array)
    out.append(_ARRAY_HEADERS[size] if size < _SHORT else _TAGGED_LENGTH(b"[", size))
    for value in array:
        if type(value) is dict:  # invoice lines, journal lines: the common case
            _document(value, out)
        else:
            (_ENCODERS.get(type(value)) or _encoder_of(value))(value, out)


# -- scalars ----------------------------------------------------------------------------


def _null(value: None, out: Out) -> None:
    out.append(b"n")


def _boolean(value: bool, out: Out) -> None:
    out.append(b"t" if value else b"f")


def _integer(value: int, out: Out) -> None:
    # int32 and int64 are one integer type: relaxed JSON cannot tell them apart.
    data = str(int(value)).encode()
    out.append(_TAGGED_LENGTH(b"i", len(data)))
    out.append(data)


_TAGGED_DOUBLE = struct.Struct(">cd").pack
_TAGGED_NAN = b"d" + _NAN  # every NaN is one NaN


def _double(value: float, out: Out) -> None:
    out.append(_TAGGED_NAN if math.isnan(value) else _TAGGED_DOUBLE(b"d", value))


def _string(value: str, out: Out) -> None:
    data = value.encode()
    out.append(_TAGGED_LENGTH(b"s", len(data)))
    out.append(data)


def _code(value: Code, out: Out, read: bool = False) -> None:
    # JavaScript: its own tags, so code is never equal to a string with the same text.
    # With a scope (a document), code and scope; a scope that reads as a wrapper cannot
    # be a scope in Extended JSON: as the document {"$code", "$scope"} it then reads as.
    scope = value.scope
    if scope is not None and not read and not _WRAPPER_NAMES.isdisjoint(scope):
        _document(scope, [], True)  # every value has a form
        read_value = _as_extended_json(value)
        if type(read_value) is not Code:  # the document {"$code", "$scope"}, as read
            _document(read_value, out, True)
            return
        value, scope = read_value, read_value.scope
    data = str.encode(value)
    out.append(_TAGGED_LENGTH(b"c" if scope is None else b"C", len(data)))
    out.append(data)
    if scope is not None:
        _document(scope, out, True)


def _decimal128(value: Decimal128, out: Out) -> None:
    # The decimal's own digits: 1.50 and 1.5 differ (the scale is part of an amount).
    high, low = value.__getstate__()
    plain = _PLAIN_DECIMALS.get(high)
    if plain is None:
        data = str(value).encode()
    else:
        template, divisor = plain
        data = template % divmod(low, divisor) if divisor > 1 else template % low
    out.append(_DECIMAL_HEADERS[len(data)])  # at most 42 bytes: "-1.<33 digits>E-6176"
    out.append(data)


def _plain_decimals() -> dict[int, tuple[bytes, int]]:
    """How ``str()`` writes the Decimal128 values with a coefficient under 2**64 (the low
    64 bits) and an exponent of 0 to -6, by their high 64 bits (sign and exponent).

    ``str(Decimal128)`` is ``str(decimal.Decimal)``, which writes these in plain notation:
    the coefficient's digits with the point ``-exponent`` digits from the right, after at
    least one zero ("-12.50", "0.000123", "7").
    """
    bias = 6176
    templates = {}
    for sign in (0, 1):
        for places in range(7):
            high = sign << 63 | (bias - places) << 49
            digits = b"%%d.%%0%dd" % places if places else b"%d"
            templates[high] = ((b"-" if sign else b"") + digits, 10**places)
    return templates


_PLAIN_DECIMALS = _plain_decimals()


def _object_id(value: ObjectId, out: Out) -> None:
    out.append(b"o")
    out.append(value.binary)


_TAGGED_MILLISECONDS = struct.Struct(">cq").pack
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)
_BSON_EPOCH = _EPOCH.replace(tzinfo=BSON_UTC)


def _datetime(value: dt.datetime, out: Out) -> None:
    # BSON dates are milliseconds since the epoch, UTC; naive datetimes are UTC; digits
    # below the millisecond are dropped, rounding down (before 1970 too). An epoch with
    # the value's own tzinfo spares the subtraction bson's Python-level utcoffset().
    tzinfo = value.tzinfo
    delta = value - (_BSON_EPOCH if tzinfo is BSON_UTC else _NAIVE_EPOCH if tzinfo is None else _EPOCH)
    milliseconds = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    out.append(_TAGGED_MILLISECONDS(b"D", milliseconds))


def _datetime_ms(value: DatetimeMS, out: Out) -> None:
    # A date datetime cannot hold (before year 1, after 9999): as a datetime would be.
    out.append(_TAGGED_MILLISECONDS(b"D", int(value)))


def _binary(value: Binary, out: Out) -> None:
    data = bytes(value)
    out.append(b"b" + bytes([value.subtype]) + _LENGTH(len(data)) + data)


def _bytes(value: bytes, out: Out) -> None:
    out.append(b"b\x00" + _LENGTH(len(value)) + value)


def _uuid(value: uuid.UUID, out: Out) -> None:
    # As MongoDB stores a UUID in the standard representation: Binary subtype 4.
    out.append(b"b\x04" + _LENGTH(16) + value.bytes)


_TIMESTAMP = struct.Struct(">II").pack


def _timestamp(value: Timestamp, out: Out) -> None:
    out.append(b"T" + _TIMESTAMP(value.time, value.inc))


# A regular expression's options as BSON writes them: the letters, in alphabetical
# order, of the re flags that BSON has (i, l, m, s, u, x are re.I, L, M, S, U, X).
_REGEX_OPTIONS = (
    (re.IGNORECASE, "i"),
    (re.LOCALE, "l"),
    (re.MULTILINE, "m"),
    (re.DOTALL, "s"),
    (re.UNICODE, "u"),
    (re.VERBOSE, "x"),
)
_BSON_REGEX_FLAGS = sum(int(flag) for flag, _ in _REGEX_OPTIONS)
_REGEX_LETTERS = {
    flags: "".join(letter for flag, letter in _REGEX_OPTIONS if flags & flag).encode()
    for flags in range(_BSON_REGEX_FLAGS + 1)
    if not flags & ~_BSON_REGEX_FLAGS
}


def _regex(value: Regex, out: Out) -> None:
    # Pattern, NUL, options: options have no NUL, so the last NUL ends the pattern.
    flags = int(value.flags)
    letters = _REGEX_LETTERS.get(flags)
    if letters is None:
        raise _Refused(f"a regular expression with flags BSON does not have: {value.flags!r} (BSON has ilmsux)")
    pattern = value.pattern
    data = (pattern if type(pattern) is str else pattern.decode()).encode() + b"\x00" + letters
    out.append(_TAGGED_LENGTH(b"r", len(data)))
    out.append(data)


def _pattern(value: re.Pattern[Any], out: Out) -> None:
    _regex(Regex.from_native(value), out)


def _dbref(value: DBRef, out: Out) -> None:
    # Not a BSON type: a document {$ref, $id, $db, ...} that bson reads as a DBRef (and
    # the deprecated DBPointer, which both sides read as a DBRef). As that document.
    _mapping(value.as_doc(), out, True)


def _min_key(value: MinKey, out: Out) -> None:
    out.append(b"<")


def _max_key(value: MaxKey, out: Out) -> None:
    out.append(b">")


def _not_bson(value: Any, out: Out) -> None:
    raise _Refused(f"no canonical form for a value of type {type(value).__name__} (not a BSON type)")


def _encode(value: Any, out: Out) -> None:
    (_ENCODERS.get(type(value)) or _encoder_of(value))(value, out)


# -- dispatch ---------------------------------------------------------------------------

# The rules in their order: the first class a value is an instance of decides. Order
# matters: a bool is an int, Code is a str, a Binary is bytes, str and bytes are Sequences.
_RULES: tuple[tuple[type | tuple[type, ...], Encoder], ...] = (
    (type(None), _null),
    (bool, _boolean),
    ((int, Int64), _integer),
    (float, _double),
    (Decimal128, _decimal128),
    (Code, _code),
    (str, _string),
    (ObjectId, _object_id),
    (dt.datetime, _datetime),
    (DatetimeMS, _datetime_ms),
    (Binary, _binary),
    (bytes, _bytes),
    (uuid.UUID, _uuid),
    (DBRef, _dbref),
    (Mapping, _document),
    ((bytearray, memoryview), _not_bson),
    (Sequence, _array),
    (Timestamp, _timestamp),
    (Regex, _regex),
    (re.Pattern, _pattern),
    (MinKey, _min_key),
    (MaxKey, _max_key),
)
# By exact type: the encoder the rules pick for exactly that type, or a faster equal one.
_ENCODERS: dict[type, Encoder] = {
    type(None): _null,
    bool: _boolean,
    int: _integer,
    Int64: _integer,
    float: _double,
    Decimal128: _decimal128,
    Code: _code,
    str: _string,
    ObjectId: _object_id,
    dt.datetime: _datetime,
    DatetimeMS: _datetime_ms,
    Binary: _binary,
    bytes: _bytes,
    uuid.UUID: _uuid,
    DBRef: _dbref,
    dict: _document,
    list: _array,
    tuple: _array,
    Timestamp: _timestamp,
    Regex: _regex,
    re.Pattern: _pattern,
    MinKey: _min_key,
    MaxKey: _max_key,
}


def _encoder_of(value: Any) -> Encoder:
    """The encoder the rules pick for a value whose exact type is not in the table."""
    for kind, encoder in _RULES:
        if isinstance(value, kind):
            return encoder
    return _not_bson


# -- naming what failed -----------------------------------------------------------------

_PLAIN_NAME = re.compile(r"[^.\[\]\"\s]+")


def _field_path(path: str, name: str) -> str:
    if _PLAIN_NAME.fullmatch(name):
        return f"{path}.{name}" if path else name
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def _refusal(document: Any, error: Exception) -> NoCanonicalForm:
    """Where and why a document has no canonical form: the innermost value that cannot
    be encoded on its own (found the slow way, once encoding has failed)."""
    return _first_refused(document, "", error, top=True) or NoCanonicalForm("", _reason(document, error))


def _first_refused(value: Any, path: str, error: Exception | None = None, top: bool = False) -> NoCanonicalForm | None:
    if error is None:
        try:
            if top:
                _document(value, [], True)
            else:
                _encode(value, [])
            return None
        except Exception as failure:
            error = failure
    if isinstance(value, Mapping):
        for name, child in value.items():
            if type(name) is not str and not isinstance(name, str):
                return NoCanonicalForm(path, f"a field name of type {type(name).__name__}, not a string")
            try:
                name.encode()
            except UnicodeEncodeError:
                return NoCanonicalForm(_field_path(path, name), "a field name that is not valid Unicode")
            found = _first_refused(child, _field_path(path, name))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found = _first_refused(child, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, DBRef):
        return _first_refused(value.as_doc(), path, top=True)
    elif isinstance(value, Code) and isinstance(value.scope, Mapping):
        found = _first_refused(value.scope, _field_path(path, "$scope"), top=True)
        if found is not None:
            return found
    return NoCanonicalForm(path, _reason(value, error))


def _reason(value: Any, error: Exception) -> str:
    if isinstance(error, _Refused):
        return str(error)
    if isinstance(error, UnicodeEncodeError):
        return "a string that is not valid Unicode (a lone surrogate)"
    return f"no canonical form for a value of type {type(value).__name__} ({type(error).__name__}: {error})"
