"""Document comparison: which field differs, judged by the canonical form's rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import json_util

from ..redaction import Redactor
from .canonical import canonical_bytes
from .result import DIFFERS, EXTRA_IN_TABLE, MISSING_IN_TABLE, FieldDifference, Mismatch

_ABSENT = object()


def _same(a: Any, b: Any) -> bool:
    return canonical_bytes({"v": a}) == canonical_bytes({"v": b})


def _show(path: str, value: Any) -> str | None:
    """The value as relaxed Extended JSON, sensitive fields redacted (the diff is shown to people)."""
    if value is _ABSENT:
        return None
    shown = Redactor.from_env().value(path, value)
    return json_util.dumps(shown, json_options=json_util.RELAXED_JSON_OPTIONS)


def field_differences(source: Mapping[str, Any], table: Mapping[str, Any], prefix: str = "") -> list[FieldDifference]:
    """Differing fields, as dotted paths; nested documents are walked, arrays compared whole."""
    found = []
    for name in sorted(set(source) | set(table)):
        path = f"{prefix}{name}"
        a, b = source.get(name, _ABSENT), table.get(name, _ABSENT)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += field_differences(a, b, prefix=f"{path}.")
        elif a is _ABSENT or b is _ABSENT or not _same(a, b):
            found.append(FieldDifference(path, _show(path, a), _show(path, b)))
    return found


def classify(
    collection: str, key: str, source: Mapping[str, Any] | None, table: Mapping[str, Any] | None
) -> Mismatch | None:
    """The mismatch between two versions of one document, or ``None`` when they are the same."""
    if source is None and table is None:
        return None
    if table is None:
        return Mismatch(collection, key, MISSING_IN_TABLE)
    if source is None:
        return Mismatch(collection, key, EXTRA_IN_TABLE)
    fields = field_differences(source, table)
    return Mismatch(collection, key, DIFFERS, fields=tuple(fields)) if fields else None
