"""Whether DMS landed files since the last successful apply.

The watermark is the start time of the last DAG run whose dbt step succeeded: dbt lists
landing after its run starts, so every file older than that was seen by an apply. On S3
a margin absorbs clock skew between S3 and the workers; a file inside it costs one
harmless extra run, because dbt itself applies exactly the files its record lacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from ..catalog import Collection
from ..names import glob_literal

WATERMARK_VARIABLE = "cdclake_applied_watermark"
S3_CLOCK_SKEW = dt.timedelta(minutes=5)
NO_SKEW = dt.timedelta(0)  # a local folder and the worker share one clock


def parse_watermark(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def landed_since(
    modified_times: Iterable[dt.datetime], watermark: dt.datetime | None, skew: dt.timedelta = NO_SKEW
) -> bool:
    """True when any file was modified after ``watermark`` (minus the skew margin)."""
    times = list(modified_times)
    if watermark is None:
        return bool(times)
    return any(moment > watermark - skew for moment in times)


def local_modified_times(landing: Path, collections: Iterable[Collection]) -> list[dt.datetime]:
    """When each Parquet file under the collections' landing folders was last modified."""
    times = []
    for collection in collections:
        root = landing / collection.database / collection.name
        if root.is_dir():
            times += [dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC) for path in root.rglob("*.parquet")]
    return times


def s3_key_pattern(prefix: str, collection: Collection) -> str:
    """The S3KeySensor's pattern for a collection's files (fnmatch: ``*`` spans folders)."""
    folder = f"{prefix.strip('/')}/{collection.database}/{collection.name}"
    return f"{glob_literal(folder)}/*.parquet"


def local_file_pattern(landing: Path, collection: Collection) -> str:
    """The FileSensor's pattern for a collection's files, at its folder's root or dated."""
    return f"{glob_literal(str(landing / collection.database / collection.name))}/**/*.parquet"


def sensor_task_id(collection: Collection) -> str:
    """A task id for the sensor watching ``collection`` (Airflow allows [A-Za-z0-9_.-])."""
    name = f"{collection.database}__{collection.name}"
    return "wait_for_" + "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in name)


def s3_files_are_new(files: list[dict], **context) -> bool:
    """``check_fn`` of the S3KeySensor: ``files`` carry their ``LastModified``."""
    watermark = parse_watermark(context["var"]["value"].get(WATERMARK_VARIABLE, None))
    return landed_since((f["LastModified"] for f in files), watermark, S3_CLOCK_SKEW)
