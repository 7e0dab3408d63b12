"""The one definition of "the same document" (rules in docs/canonical-form.md).

Both sides reduce a document to these canonical bytes and hash them: the MongoDB side
from pymongo's BSON types, the Iceberg side from the ``_doc`` Extended JSON parsed with
``bson.json_util``. Every value is written as a type tag plus an unambiguous payload, so
two documents have equal bytes exactly when the rules call them the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.json_util import JSONOptions

JSON_OPTIONS = JSONOptions(tz_aware=True)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAN = struct.pack(">d", math.nan)


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical encoding of a whole document."""
    out = bytearray()
    _document(document, out)
    return bytes(out)


def document_hash(document: Mapping[str, Any]) -> bytes:
    """A 128-bit digest of the canonical bytes."""
    return hashlib.blake2b(canonical_bytes(document), digest_size=16).digest()


def extended_json_hash(text: str) -> bytes:
    """The hash of a document given as Extended JSON (canonical, relaxed or plain)."""
    return document_hash(json_util.loads(text, json_options=JSON_OPTIONS))


def _length_prefixed(tag: bytes, payload: bytes, out: bytearray) -> None:
    out += tag + struct.pack(">I", len(payload)) + payload


def _document(document: Mapping[str, Any], out: bytearray) -> None:
    # Field order is not content: MongoDB updates may reorder fields.
    items = sorted(document.items(), key=lambda item: item[0].encode())
    out += b"{" + struct.pack(">I", len(items))
    for key, value in items:
        _length_prefixed(b"k", key.encode(), out)
        _value(value, out)


def _value(value: Any, out: bytearray) -> None:
    if value is None:
        out += b"n"
    elif isinstance(value, bool):
        out += b"t" if value else b"f"
    elif isinstance(value, (int, Int64)):
        # int32 and int64 are one integer type: relaxed JSON cannot tell them apart.
        _length_prefixed(b"i", str(int(value)).encode(), out)
    elif isinstance(value, float):
        out += b"d" + (_NAN if math.isnan(value) else struct.pack(">d", value))
    elif isinstance(value, Decimal128):
        # The decimal's own digits: 1.50 and 1.5 differ (the scale is part of an amount).
        _length_prefixed(b"m", str(value).encode(), out)
    elif isinstance(value, str):
        _length_prefixed(b"s", value.encode(), out)
    elif isinstance(value, ObjectId):
        out += b"o" + value.binary
    elif isinstance(value, dt.datetime):
        out += b"D" + struct.pack(">q", _milliseconds(value))
    elif isinstance(value, Binary):
        _length_prefixed(b"b" + bytes([value.subtype]), bytes(value), out)
    elif isinstance(value, bytes):
        _length_prefixed(b"b\x00", value, out)
    elif isinstance(value, Mapping):
        _document(value, out)
    elif isinstance(value, Sequence):
        out += b"[" + struct.pack(">I", len(value))
        for element in value:
            _value(element, out)
    elif isinstance(value, Timestamp):
        out += b"T" + struct.pack(">II", value.time, value.inc)
    elif isinstance(value, Regex):
        _length_prefixed(b"r", f"{value.pattern}\x00{value.flags}".encode(), out)
    elif isinstance(value, MinKey):
        out += b"<"
    elif isinstance(value, MaxKey):
        out += b">"
    else:
        raise TypeError(f"no canonical form for a value of type {type(value).__name__}: {value!r}")


def _milliseconds(moment: dt.datetime) -> int:
    """BSON dates are milliseconds since the epoch, UTC; naive datetimes are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
