"""Benchmark of table maintenance (issue 15, item 2), measured in one run (bench/README.md).

A 20,000-document full load, then 300 small CDC batches applied one dbt run each, as DMS
and the DAG deliver them every few minutes. Then, per table, the data files, delete files,
snapshots and bytes; the time to scan ``current_invoices`` and to run one ``full``
reconciliation: before and after ``cdclake maintain``; and the next batch's apply after
maintenance against the apply after one batch.

The 300 batches take half an hour, not the days the default retention (5 days) is about,
so maintenance runs with a 1-minute snapshot retention (the newest 5 snapshots kept, as by
default): what the nightly run does to five days of batches.

    .venv/bin/python -m bench.maintenance_benchmark [--documents N] [--batches N] [--batch-events N]

``--measure-only`` measures a lake an earlier run built and did not finish measuring: the
simulated source is replayed from its seed (the same files, checked by name) and each
batch's time is read back from dbt's logs ("Finished running … in N seconds": dbt's own
time, without the process's few hundredths around it).

Data goes to data/bench-maintenance/ (rebuilt each run); results to bench/results/maintenance.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from bench.reconcile_benchmark import run_full
from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.settings import Paths

REPO = Path(__file__).resolve().parents[1]  # the checkout: benchmarks read and write beside it
RESULTS = REPO / "bench" / "results"
SCHEMA = "bench_maintenance"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def apply(paths: Paths) -> float:
    from cdclake.dbt_runner import run_dbt

    started = time.perf_counter()
    outcome = run_dbt(["run", "--select", "current_state", "--quiet"], paths, schema=SCHEMA)
    if not outcome.success:
        raise SystemExit(f"dbt failed: {outcome.error or outcome.statuses}")
    return time.perf_counter() - started


def replayed_source(paths: Paths, documents: int, batches: int, batch_events: int) -> Simulator:
    """The simulated source as the earlier run left it, replayed from its seed; its files
    are written aside and checked against the landed ones by name."""
    replay = paths.data_dir / "replay"
    shutil.rmtree(replay, ignore_errors=True)
    sim = Simulator(replay / "state", 15, EndpointSettings(), rows_per_file=100_000)
    sim.full_load(documents, replay / "landing")
    for _ in range(batches):
        sim.cdc_batch(batch_events, replay / "outbox")
    names = {p.name for p in (replay / "outbox").rglob("*.parquet")}
    landed = {p.name for p in paths.landing.rglob("*.parquet") if not p.name.startswith("LOAD")}
    if names != landed:
        raise SystemExit(f"the replay differs from what landed: {len(names ^ landed)} file name(s) apart")
    shutil.rmtree(replay / "outbox")
    return sim


def batch_times_from_dbt_logs(paths: Paths) -> list[float]:
    """Every dbt run's own time, oldest first, from dbt's rotated logs."""

    def age(path: Path) -> int:  # dbt.log is the newest, dbt.log.5 the oldest
        return int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0

    logs = sorted((paths.dbt_dir / "logs").glob("dbt.log*"), key=age)
    seconds = []
    for path in reversed(logs):
        for line in path.read_text(errors="replace").splitlines():
            found = re.search(r"Finished running .* in 0 hours (\d+) minutes and ([\d.]+) seconds", line)
            if found:
                seconds.append(60 * int(found[1]) + float(found[2]))
    return seconds


def apply_after_maintenance(paths: Paths, sim: Simulator, delivery: Delivery, batch_events: int) -> dict:
    """Eight batches after maintenance: the first, and the median of the last four (in a
    fresh process the first few also pay the JVM's and dbt's warming up)."""
    seconds = []
    for _ in range(8):
        delivery.land_batch(sim.cdc_batch(batch_events, paths.outbox), chaotic=False)
        seconds.append(apply(paths))
    return {
        "apply_after_maintenance_seconds": [round(second, 2) for second in seconds],
        "apply_of_batches_5_to_8_after_maintenance_median_seconds": round(statistics.median(seconds[4:]), 2),
    }


def state_of_the_lake(paths: Paths) -> dict:
    """Per table files, snapshots and bytes; a full scan of current_invoices; one ``full``
    reconciliation against the snapshot."""
    from cdclake.maintenance import MaintenanceSettings, table_health
    from cdclake.reconcile.sources import SnapshotSource
    from cdclake.spark import get_or_create_session

    spark = get_or_create_session(paths)
    tables = {h.table: {k: v for k, v in asdict(h).items() if k != "table"} for h in table_health(
        spark, SCHEMA, MaintenanceSettings()
    )}  # fmt: skip
    scans = []
    for _ in range(3):
        started = time.perf_counter()
        spark.sql(f"select count(*), sum(length(document)) from {SCHEMA}.current_invoices").collect()
        scans.append(time.perf_counter() - started)
    full = run_full(paths, SnapshotSource(paths.snapshot), [], schema=SCHEMA)
    return {
        "tables": tables,
        "scan_current_invoices_seconds": round(min(scans), 2),
        "full_reconciliation_seconds": full["seconds"],
        "full_reconciliation_clean": full["differences_found"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-events", type=int, default=200)
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument("--after-only", action="store_true", help="only the batches after maintenance")
    args = parser.parse_args()

    paths = Paths(REPO / "data" / "bench-maintenance")
    os.environ["CDCLAKE_DATA_DIR"] = str(paths.data_dir)
    from cdclake.maintenance import MaintenanceSettings, maintain
    from cdclake.spark import get_or_create_session

    delivery = Delivery(paths.outbox, paths.landing)
    if args.after_only:  # a lake measured and maintained by --measure-only, whose next batches were not
        sim = replayed_source(paths, args.documents, len(batch_times_from_dbt_logs(paths)) - 1, args.batch_events)
        get_or_create_session(paths)
        result = json.loads((RESULTS / "maintenance.json").read_text())
        result.update(apply_after_maintenance(paths, sim, delivery, args.batch_events))
        (RESULTS / "maintenance.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    if args.measure_only:
        sim = replayed_source(paths, args.documents, args.batches, args.batch_events)
        batch_seconds = batch_times_from_dbt_logs(paths)[1:]  # the first run is the full load
        if len(batch_seconds) < args.batches:
            raise SystemExit(f"dbt's logs hold {len(batch_seconds)} batches, not {args.batches}")
        batch_seconds = batch_seconds[: args.batches]
        spark = get_or_create_session(paths)
    else:
        shutil.rmtree(paths.data_dir, ignore_errors=True)
        sim = Simulator(paths.simulator_state, 15, EndpointSettings(), rows_per_file=100_000)
        sim.full_load(args.documents, paths.landing)
        spark = get_or_create_session(paths)
        log(f"full load of {args.documents:,} documents")
        apply(paths)
        batch_seconds = []
        for number in range(1, args.batches + 1):
            delivery.land_batch(sim.cdc_batch(args.batch_events, paths.outbox), chaotic=False)
            batch_seconds.append(apply(paths))
            if number == 1 or number % 25 == 0:
                log(f"batch {number}/{args.batches}: {batch_seconds[-1]:.2f}s")
        sim.write_snapshot(paths.snapshot)
    log("the lake after the batches")
    before = state_of_the_lake(paths)
    log("maintenance")
    settings = MaintenanceSettings(snapshot_retention=dt.timedelta(minutes=1))
    started = time.perf_counter()
    upkeep = maintain(spark, SCHEMA, settings, say=lambda _: None)
    maintenance_seconds = time.perf_counter() - started
    log("the lake after maintenance")
    after = state_of_the_lake(paths)
    next_batches = apply_after_maintenance(paths, sim, delivery, args.batch_events)
    result = {
        "documents": args.documents,
        "batches": args.batches,
        "batch_events": args.batch_events,
        "machine": f"{os.cpu_count()} cores",
        "apply_of_first_batch_seconds": round(batch_seconds[0], 2),
        "apply_after_one_batch_seconds": round(batch_seconds[min(1, len(batch_seconds) - 1)], 2),
        "apply_of_batches_2_to_11_median_seconds": round(statistics.median(batch_seconds[1:11] or [0]), 2),
        "apply_of_last_10_batches_median_seconds": round(statistics.median(batch_seconds[-10:]), 2),
        "before_maintenance": before,
        "maintenance_seconds": round(maintenance_seconds, 1),
        "maintenance": [asdict(u) for u in upkeep],
        "after_maintenance": after,
        **next_batches,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "maintenance.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
