"""Key identity: the text that names one MongoDB document (rules in docs/key-identity.md).

DMS's key column holds an ``_id`` as text, so ``"1"`` and ``1``, or an ObjectId and the
string of its hex, would be one key. The lake keys a document by its *typed* ``_id``
instead, written as a key text: an Extended JSON value in which numbers follow MongoDB's
equality (int32 1, int64 1, 1.0 and Decimal128 1 are all ``1``). The apply computes it in
SQL from DMS's ``_doc`` (macros/cdc/keys.sql); this module computes it from a BSON value,
for the MongoDB side of reconciliation. tests/python/test_key_identity.py proves the two
agree for every type.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.codec_options import DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.dbref import DBRef
from bson.json_util import CANONICAL_JSON_OPTIONS, JSONOptions

_INT64 = 2**63
_EPOCH = dt.datetime(1970, 1, 1)
_KEY_JSON_OPTIONS = JSONOptions(tz_aware=False, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
_HEX_DOUBLE = re.compile(r'\{"\$numberDouble":"(-?0x[0-9a-f.]+p-?[0-9]+)"\}')


class UnsupportedKey(ValueError):
    """An ``_id`` that MongoDB itself refuses (an array, a regular expression)."""


def key_json(value: Any) -> str:
    """The key text of an ``_id`` value, as the apply writes it into ``_id`` columns."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal128)):
        return _number_key(value)
    if isinstance(value, Code):  # a str subclass: before str
        return _nested(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        return _nested(value)
    if isinstance(value, (list, tuple, Regex, re.Pattern)):
        raise UnsupportedKey(f"MongoDB does not allow {type(value).__name__} as _id: {value!r}")
    return _nested(value)


def key_value(key: str) -> Any:
    """The ``_id`` value a key text stands for (one member of its equality class), for
    finding the document in MongoDB (``$in`` compares numbers by value) and for giving a
    table document without ``_id`` its key back."""
    return json_util.loads(_HEX_DOUBLE.sub(_decimal_double, key), json_options=_KEY_JSON_OPTIONS)


def restore_id(document: dict[str, Any], key: str) -> dict[str, Any]:
    """A table document without ``_id`` (DMS's ``_doc`` may leave it out) gets it back
    from the table's typed key."""
    if "_id" in document:
        return document
    return {"_id": key_value(key), **document}


# -- numbers ----------------------------------------------------------------------------


def _number_key(value: int | float | Decimal128) -> str:
    if isinstance(value, int):  # int32, Int64 and Python ints
        if -_INT64 <= value < _INT64:
            return str(int(value))
        return _double_key(float(value))
    if isinstance(value, float):
        return _double_key(value)
    return _decimal_key(value.to_decimal())


def _double_key(value: float) -> str:
    if math.isfinite(value) and abs(value) < _INT64 and value == math.floor(value):
        return str(int(value))
    return '{"$numberDouble":"' + _java_hex(value) + '"}'


def _java_hex(value: float) -> str:
    """``java.lang.Double.toHexString``: exact, and the same whatever prints decimals."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign, text = ("-", (-value).hex()) if math.copysign(1.0, value) < 0 else ("", value.hex())
    mantissa, exponent = text.split("p")
    head, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0") or "0"
    exponent = str(int(exponent))
    if head == "0x0" and value != 0:  # subnormal: Java writes the exponent as -1022
        exponent = "-1022"
    return f"{sign}{head}.{fraction}p{exponent}"


def _decimal_double(match: re.Match[str]) -> str:
    return '{"$numberDouble":"' + repr(float.fromhex(match.group(1))) + '"}'


def _decimal_key(value: Decimal) -> str:
    if value.is_nan():
        return '{"$numberDecimal":"NaN"}'
    if value.is_infinite():
        return '{"$numberDecimal":"' + ("-Infinity" if value < 0 else "Infinity") + '"}'
    if value == 0:
        return "0"
    sign, digits, exponent = value.as_tuple()
    significant = "".join(map(str, digits)).lstrip("0").rstrip("0")
    exponent = int(exponent) + len("".join(map(str, digits)).lstrip("0")) - len(significant)
    text = ("-" if sign else "") + significant
    if exponent >= 0 and len(significant) + exponent <= 19 and -_INT64 <= int(value) < _INT64:
        return text + "0" * exponent
    return '{"$numberDecimal":"' + f"{text}E{exponent}" + '"}'


# -- strings and everything else --------------------------------------------------------

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPES = {chr(code): _SHORT_ESCAPES.get(chr(code), f"\\u{code:04X}") for code in range(0x20)}
_ESCAPES.update(_SHORT_ESCAPES)
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _json_string(value: str) -> str:
    """A JSON string literal, escaped as Spark's JSON writer (Jackson) escapes it."""
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _ESCAPES[match.group()], value) + '"'


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogates(match: re.Match[str]) -> str:
    code = ord(match.group()) - 0x10000
    return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"


def _nested_string(value: str) -> str:
    """A string inside an embedded ``_id``: Spark re-writes those with characters beyond
    the BMP as escaped surrogate pairs."""
    return _ASTRAL.sub(_surrogates, _json_string(value))


def _nested(value: Any) -> str:
    """A value inside an embedded ``_id`` (and the rarer ``_id`` types): its canonical
    Extended JSON, compact, field order kept, int32 / int64 as plain integers."""
    if value is None or isinstance(value, bool):
        return key_json(value)
    if isinstance(value, str) and not isinstance(value, Code):
        return _nested_string(value)
    if isinstance(value, (int, Int64)):
        return str(int(value))
    if isinstance(value, Mapping) and not isinstance(value, DBRef):
        return "{" + ",".join(_nested_string(name) + ":" + _nested(item) for name, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_nested(item) for item in value) + "]"
    if isinstance(value, ObjectId):
        return '{"$oid":"' + str(value) + '"}'
    if isinstance(value, (dt.datetime, DatetimeMS)):
        return '{"$date":{"$numberLong":"' + str(_milliseconds(value)) + '"}}'
    if isinstance(value, (Binary, bytes, uuid.UUID)):
        return _binary(value)
    if isinstance(value, MinKey):
        return '{"$minKey":1}'
    if isinstance(value, MaxKey):
        return '{"$maxKey":1}'
    if isinstance(value, (float, Decimal128, Timestamp, Code, Regex, DBRef)):
        return _canonical_json(value)
    raise UnsupportedKey(f"no key text for a value of type {type(value).__name__}: {value!r}")


def _milliseconds(value: dt.datetime | DatetimeMS) -> int:
    if isinstance(value, DatetimeMS):
        return int(value)
    naive = value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    delta = naive - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _binary(value: Binary | bytes | uuid.UUID) -> str:
    if isinstance(value, uuid.UUID):
        data, subtype = value.bytes, 4
    else:
        data, subtype = bytes(value), getattr(value, "subtype", 0)
    return '{"$binary":{"base64":"' + base64.b64encode(data).decode() + f'","subType":"{subtype:02x}"' + "}}"


def _canonical_json(value: Any) -> str:
    text = json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS, separators=(",", ":"), ensure_ascii=False)
    return re.sub(r'\{"\$number(?:Int|Long)":"(-?[0-9]+)"\}', r"\1", text)
