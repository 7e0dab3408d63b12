"""Writes and reads a source snapshot in mongodump's directory format.

``<root>/<database>/<collection>.bson`` holds the documents back to back as BSON, and
``<collection>.metadata.json`` the collection's metadata, the same thing an operator gets
from ``mongodump --readPreference=secondary``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions

CODEC_OPTIONS = CodecOptions(tz_aware=True)


def write_collection(root: Path, database: str, collection: str, documents: Iterable[dict[str, Any]]) -> int:
    """Stream ``documents`` into ``<root>/<database>/<collection>.bson``; returns the count."""
    folder = root / database
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = folder / f"{collection}.bson.inprogress"
    with tmp.open("wb") as out:
        for document in documents:
            out.write(bson.encode(document, codec_options=CODEC_OPTIONS))
            count += 1
    tmp.replace(folder / f"{collection}.bson")
    metadata = {
        "indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}],
        "collectionName": collection,
        "type": "collection",
    }
    (folder / f"{collection}.metadata.json").write_text(json.dumps(metadata))
    return count


def read_collection(root: Path, database: str, collection: str) -> Iterator[dict[str, Any]]:
    """Documents of one collection of a mongodump directory, in file order."""
    path = root / database / f"{collection}.bson"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such collection in the snapshot (was mongodump run for '{database}'?)")
    with path.open("rb") as source:
        yield from bson.decode_file_iter(source, codec_options=CODEC_OPTIONS)
