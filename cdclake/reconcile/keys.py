"""Keys as the DMS key column holds them, and back.

DMS writes a document's ``_id`` as text (the ObjectId's hex, or the key's string form),
so the table side only knows that text. Both sides order and match documents by it.
"""

from __future__ import annotations

import re
from typing import Any

from bson import ObjectId

_INTEGER = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: str.isdigit() takes "²"


def key_text(key: Any) -> str:
    """The key column's value for an ``_id``."""
    return str(key)


def key_candidates(text: str) -> list[Any]:
    """The ``_id`` values a key text can stand for (ObjectId, string or integer keys)."""
    candidates: list[Any] = [text]
    if len(text) == 24 and ObjectId.is_valid(text):
        candidates.append(ObjectId(text))
    if _INTEGER.fullmatch(text) and -(2**63) <= int(text) < 2**63:
        candidates.append(int(text))
    return candidates


def restore_id(document: dict[str, Any], text: str) -> dict[str, Any]:
    """A table document without ``_id`` (DMS's ``_doc`` may leave it out) gets it back from
    the key column: an ObjectId when the text is one, otherwise the string. (Integer keys
    cannot be told from strings here: their ``_doc`` must carry the ``_id``.)"""
    if "_id" in document:
        return document
    key: Any = ObjectId(text) if len(text) == 24 and ObjectId.is_valid(text) else text
    return {"_id": key, **document}
