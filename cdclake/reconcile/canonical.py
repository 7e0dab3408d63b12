"""The one definition of "the same document" (rules in docs/canonical-form.md).

Both sides reduce a document to these canonical bytes and hash them: the MongoDB side
from pymongo's BSON types, the Iceberg side from the ``_doc`` Extended JSON parsed with
``bson.json_util``. Every value is written as a type tag plus an unambiguous payload, so
two documents have equal bytes exactly when the rules call them the same.

Reconciliation hashes every document of a collection, so the encoder is written for
speed (bench/hash_benchmark.py) without changing a byte of its output:

- values dispatch on their exact type: the common ones inline, the rest through a table;
  any other type, subclasses included, goes through the rules in their isinstance order;
- a dict's sorted, encoded field names are worked out once per set of names (its
  layout): the documents of a collection share a handful of layouts;
- Decimal128 amounts skip ``str(Decimal128)``, which builds its digits in Python;
- the output is a list of byte strings, joined once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.codec_options import CodecOptions
from bson.json_util import JSONOptions
from bson.tz_util import utc as BSON_UTC

# How both sides decode: dates as naive datetimes, which are UTC (BSON dates are UTC).
# The canonical form does not care, and not building a tzinfo per date makes decoding
# about 10% faster (bench/hash_benchmark.py).
BSON_OPTIONS = CodecOptions(tz_aware=False)
JSON_OPTIONS = JSONOptions(tz_aware=False)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAN = struct.pack(">d", math.nan)

Out = list[bytes]  # the canonical bytes, in pieces
Encoder = Callable[[Any, Out], None]


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical encoding of a whole document."""
    out: Out = []
    _document(document, out)
    return b"".join(out)


def document_hash(document: Mapping[str, Any]) -> bytes:
    """A 128-bit digest of the canonical bytes."""
    out: Out = []
    _document(document, out)
    return hashlib.blake2b(b"".join(out), digest_size=16).digest()


def extended_json_hash(text: str) -> bytes:
    """The hash of a document given as Extended JSON (canonical, relaxed or plain)."""
    return document_hash(json_util.loads(text, json_options=JSON_OPTIONS))


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

# -- documents and arrays ---------------------------------------------------------------

Layout = tuple[bytes, tuple[tuple[str, bytes], ...]]  # header, (name, encoded name) in order
_LAYOUTS: dict[tuple[str, ...], Layout] = {}
_MAX_LAYOUTS = 10_000  # field names that are data would grow the cache without end


def _document(document: Mapping[str, Any], out: Out) -> None:
    # Field order is not content: MongoDB updates may reorder fields.
    if type(document) is not dict:
        _mapping(document, out)
        return
    names = tuple(document)
    # (A str subclass name equal to a plain one finds the plain name's layout: the same
    # bytes unless it overrides encode(). pymongo and json_util only make plain str.)
    layout = _LAYOUTS.get(names) or _layout(names)
    if layout is None:
        _mapping(document, out)
        return
    header, fields = layout
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
    """The header and the sorted, encoded field names of dicts with these field names;
    None unless all are plain str (a subclass may encode or compare its own way)."""
    if not all(type(name) is str for name in names):
        return None
    # Code point order is UTF-8 byte order, so plain str names sort without encoding.
    fields = tuple((name, _encoded_name(name)) for name in sorted(names))
    layout = (_TAGGED_LENGTH(b"{", len(fields)), fields)
    if len(_LAYOUTS) < _MAX_LAYOUTS:
        _LAYOUTS[names] = layout
    return layout


def _encoded_name(name: str) -> bytes:
    data = name.encode()
    return _TAGGED_LENGTH(b"k", len(data)) + data


def _mapping(document: Mapping[str, Any], out: Out) -> None:
    """Any other mapping (RawBSONDocument, SON, a dict subclass, names that are not plain
    str), by the rule as written: fields sorted by the UTF-8 bytes of their names."""
    items = sorted(document.items(), key=lambda item: item[0].encode())
    out.append(_TAGGED_LENGTH(b"{", len(items)))
    for name, value in items:
        out.append(_encoded_name(name))
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


def _binary(value: Binary, out: Out) -> None:
    data = bytes(value)
    out.append(b"b" + bytes([value.subtype]) + _LENGTH(len(data)) + data)


def _bytes(value: bytes, out: Out) -> None:
    out.append(b"b\x00" + _LENGTH(len(value)) + value)


_TIMESTAMP = struct.Struct(">II").pack


def _timestamp(value: Timestamp, out: Out) -> None:
    out.append(b"T" + _TIMESTAMP(value.time, value.inc))


def _regex(value: Regex, out: Out) -> None:
    data = f"{value.pattern}\x00{value.flags}".encode()
    out.append(_TAGGED_LENGTH(b"r", len(data)))
    out.append(data)


def _min_key(value: MinKey, out: Out) -> None:
    out.append(b"<")


def _max_key(value: MaxKey, out: Out) -> None:
    out.append(b">")


# -- dispatch ---------------------------------------------------------------------------

# The rules in their order: the first class a value is an instance of decides. Order
# matters: a bool is an int, a Binary is bytes, str and bytes are Sequences.
_RULES: tuple[tuple[type | tuple[type, ...], Encoder], ...] = (
    (type(None), _null),
    (bool, _boolean),
    ((int, Int64), _integer),
    (float, _double),
    (Decimal128, _decimal128),
    (str, _string),
    (ObjectId, _object_id),
    (dt.datetime, _datetime),
    (Binary, _binary),
    (bytes, _bytes),
    (Mapping, _document),
    (Sequence, _array),
    (Timestamp, _timestamp),
    (Regex, _regex),
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
    str: _string,
    ObjectId: _object_id,
    dt.datetime: _datetime,
    Binary: _binary,
    bytes: _bytes,
    dict: _document,
    list: _array,
    tuple: _array,
    Timestamp: _timestamp,
    Regex: _regex,
    MinKey: _min_key,
    MaxKey: _max_key,
}


def _encoder_of(value: Any) -> Encoder:
    """The encoder the rules pick for a value whose exact type is not in the table."""
    for kind, encoder in _RULES:
        if isinstance(value, kind):
            return encoder
    raise TypeError(f"no canonical form for a value of type {type(value).__name__}: {value!r}")
