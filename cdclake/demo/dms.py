"""Writes change events exactly as AWS DMS lands them on S3 in Parquet.

DMS MongoDB source in document mode with ``_id`` extracted, S3 target in Parquet: a
full load as ``LOAD0000000n.parquet`` per collection, then CDC files named by time,
optionally under ``YYYY/MM/DD/`` folders. Columns: ``Op`` (I/U/D; on full-load rows only
with ``includeOpForFullLoad``), the commit timestamp as a string, the key, and ``_doc``,
the whole document as MongoDB Extended JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from bson import json_util

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
EJSON_MODES = {"canonical": json_util.CANONICAL_JSON_OPTIONS, "relaxed": json_util.RELAXED_JSON_OPTIONS}


@dataclass(frozen=True)
class EndpointSettings:
    """The DMS endpoint settings that shape the files (see infra/dms)."""

    database: str = "ledger"
    timestamp_column: str = "dms_commit_ts"
    key_column: str = "_id"  # DMS names it "oid_id" in some configurations
    include_op_for_full_load: bool = False
    doc_includes_id: bool = True
    date_folders: bool = True
    ejson: Literal["canonical", "relaxed"] = "canonical"


@dataclass(frozen=True)
class Event:
    """One change: ``document`` is the full after-image, ``None`` for a bare delete."""

    op: str
    key: Any
    document: dict[str, Any] | None
    commit_us: int  # microseconds since the Unix epoch, UTC


def dms_key_text(key: Any) -> str:
    """What DMS writes into its key column: an ObjectId's hex, otherwise the value's string
    form. It is only text, so different keys can share it ("1" and 1)."""
    return str(key)


def format_commit_timestamp(commit_us: int) -> str:
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=commit_us)
    return moment.strftime(TIMESTAMP_FORMAT)


def to_extended_json(document: dict[str, Any], settings: EndpointSettings) -> str:
    if not settings.doc_includes_id:
        document = {k: v for k, v in document.items() if k != "_id"}
    return json_util.dumps(document, json_options=EJSON_MODES[settings.ejson], ensure_ascii=False)


def cdc_file_name(commit_us: int) -> str:
    """DMS names CDC files by time: ``yyyymmdd-hhmmssffff.parquet``."""
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=commit_us)
    return moment.strftime("%Y%m%d-%H%M%S") + f"{moment.microsecond // 100:04d}.parquet"


def cdc_relative_dir(commit_us: int, settings: EndpointSettings) -> Path:
    if not settings.date_folders:
        return Path()
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=commit_us)
    return Path(f"{moment:%Y}", f"{moment:%m}", f"{moment:%d}")


def _schema(settings: EndpointSettings, with_op: bool) -> pa.Schema:
    fields = [pa.field("Op", pa.string())] if with_op else []
    fields += [
        pa.field(settings.timestamp_column, pa.string()),
        pa.field(settings.key_column, pa.string()),
        pa.field("_doc", pa.string()),
    ]
    return pa.schema(fields)


def _doc_json(event: Event, settings: EndpointSettings, row: int) -> str | None:
    if event.document is not None:
        return to_extended_json(event.document, settings)
    # A delete may carry nothing but the key; real streams show both shapes.
    return None if row % 2 else json_util.dumps({"_id": event.key}, json_options=EJSON_MODES[settings.ejson])


def write_dms_file(path: Path, events: Iterable[Event], settings: EndpointSettings, with_op: bool) -> int:
    """Write one DMS Parquet file; returns the number of rows written."""
    columns: dict[str, list[str | None]] = {"Op": [], "ts": [], "key": [], "doc": []}
    for row, event in enumerate(events):
        columns["Op"].append(event.op)
        columns["ts"].append(format_commit_timestamp(event.commit_us))
        columns["key"].append(dms_key_text(event.key))
        columns["doc"].append(_doc_json(event, settings, row))
    arrays = ([pa.array(columns["Op"], pa.string())] if with_op else []) + [
        pa.array(columns["ts"], pa.string()),
        pa.array(columns["key"], pa.string()),
        pa.array(columns["doc"], pa.string()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".inprogress")
    # DMS (like any S3 upload) makes a file visible whole or not at all.
    pq.write_table(pa.Table.from_arrays(arrays, schema=_schema(settings, with_op)), tmp, compression="snappy")
    tmp.replace(path)
    return len(columns["Op"])
