"""Benchmark (i): the apply's listing of a collection's landing folder as files accumulate
(issue 14, item 4), the old way against the new, in one run (bench/README.md).

DMS lands one file per collection and batch. The old listing named every file through a
glob (`{*.parquet,*/*/*/*.parquet}`), and Spark checks each file a glob names again, in a
Spark job of its own once there are more than 32. The new one lists the folder
recursively, directory by directory, keeping names that match `*.parquet`.

    .venv/bin/python -m bench.listing_benchmark [--files 50,300,1000] [--repeats 5]

Files go to data/bench-listing/ (rebuilt each run); results to bench/results/listing.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdclake.settings import Paths

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def land(folder: Path, files: int) -> None:
    """``files`` small Parquet files under date folders, 96 a day (one every 15 minutes)."""
    table = pa.table({"Op": ["I"], "_id": ["5e0be1000100000000000000"]})
    start = dt.datetime(2026, 11, 1)
    for n in range(files):
        moment = start + dt.timedelta(minutes=15 * n)
        target = folder / moment.strftime("%Y/%m/%d") / f"{moment:%Y%m%d-%H%M%S}000.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)


def median_seconds(listing, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        listing()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="50,300,1000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from cdclake.spark import get_or_create_session

    root = REPO / "data" / "bench-listing"
    shutil.rmtree(root, ignore_errors=True)
    spark = get_or_create_session(Paths(root))
    rows = []
    for files in [int(n) for n in args.files.split(",")]:
        folder = root / "landing" / f"files-{files}"
        land(folder, files)
        uri = f"file:{folder}"

        def by_glob(uri: str = uri) -> int:
            return spark.read.format("binaryFile").load(f"{uri}/{{*.parquet,*/*/*/*.parquet}}").select("path").count()

        def recursive(uri: str = uri) -> int:
            reader = spark.read.format("binaryFile").options(recursiveFileLookup="true", pathGlobFilter="*.parquet")
            return reader.load(uri).select("path").count()

        assert by_glob() == recursive() == files  # the same files, and a first listing to warm up
        glob_s, recursive_s = median_seconds(by_glob, args.repeats), median_seconds(recursive, args.repeats)
        rows.append({"files": files, "glob_s": round(glob_s, 3), "recursive_s": round(recursive_s, 3)})
        print(f"{files} files: glob {glob_s:.3f} s, recursive {recursive_s:.3f} s (median of {args.repeats})")
    RESULTS.mkdir(exist_ok=True)
    result = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "listings": rows}
    (RESULTS / "listing.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
