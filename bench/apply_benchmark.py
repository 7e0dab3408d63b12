"""Benchmarks of issue #2, measured in one run (see bench/README.md).

(a) apply 1,000,000 CDC events to a 1,000,000-document current-state table through dbt,
    and DuckDB doing the same dedup-and-apply on the same files as a yardstick;
(b) the time to apply a 10,000-event batch after 1 earlier batch vs after 50;
(c) is measured separately by bench/demo_memory.py.

    .venv/bin/python -m bench.apply_benchmark [--documents N] [--events N] [--history N] [--profile]

Each dbt run's wall time and the Spark JVM's CPU seconds are recorded. --profile also
records (a)'s apply and the last batch of (b) with Java Flight Recorder, adds where the
JVM's time went (bench/jvm_profile.py) and writes bench/results/apply-profile.json
instead: a recorded run is slower, so its times are not the benchmark's figures.

Data goes to data/bench/ (reused across runs when the sizes match); results to
bench/results/apply.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from bench.jvm_profile import JvmCpu, Recording
from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.settings import Paths

REPO = Path(__file__).resolve().parents[1]  # the checkout: benchmarks read and write beside it

RESULTS = REPO / "bench" / "results"
SCHEMA = "bench"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class Meter:
    """Times each dbt run, with the JVM's CPU; records chosen runs with JFR."""

    def __init__(self, spark, profile: bool) -> None:
        self.cpu, self.profile = JvmCpu.of_session(spark), profile
        self.cpu_seconds: dict[str, float] = {}
        self.cpu_by_kind: dict[str, dict[str, float]] = {}
        self.profiles: dict[str, dict] = {}

    def apply(self, paths: Paths, label: str, record: bool = False) -> float:
        from cdclake.dbt_runner import run_dbt

        def run() -> None:
            outcome = run_dbt(["run", "--select", "current_state", "--quiet"], paths, schema=SCHEMA)
            if not outcome.success:
                raise SystemExit(f"dbt failed: {outcome.error or outcome.statuses}")

        self.cpu.start()
        if record and self.profile:
            with Recording(self.cpu.pid, paths.data_dir / f"{label}.jfr") as recording:
                seconds = timed(run)
            self.profiles[label] = recording.summary()
        else:
            seconds = timed(run)
        self.cpu_seconds[label] = round(self.cpu.seconds(), 2)
        self.cpu_by_kind[label] = self.cpu.by_kind()
        return seconds


def duckdb_apply(cdc_files: list[Path], full_load: list[Path]) -> float:
    """DuckDB: the same rule (latest position per key, tombstones, strictly newer wins)."""
    import duckdb

    def read(files: list[Path]) -> str:
        listed = ", ".join(f"'{f}'" for f in files)
        return f"""
          select _id, {'"Op"' if "Op" in first_columns(files) else "'I'"} as op,
                 strptime(dms_commit_ts, '%Y-%m-%d %H:%M:%S.%f') as commit_ts,
                 not regexp_matches(parse_filename(filename), '^LOAD') as is_cdc,
                 parse_filename(filename) as source_file, file_row_number as source_row,
                 _doc as document
          from read_parquet([{listed}], filename = true, file_row_number = true, union_by_name = true)"""

    def latest(files: list[Path]) -> str:
        return f"""
          select * exclude (recency) from (
            select *, row_number() over (partition by _id order by commit_ts desc, is_cdc desc,
                                         source_file desc, source_row desc) as recency
            from ({read(files)})) where recency = 1"""

    con = duckdb.connect()
    con.execute("set threads = 2")
    con.execute(f"create table state as {latest(full_load)}")
    started = time.perf_counter()
    con.execute(f"""
      merge into state using ({latest(cdc_files)}) as change on state._id = change._id
      when matched and (change.commit_ts, change.is_cdc, change.source_file, change.source_row)
                     > (state.commit_ts, state.is_cdc, state.source_file, state.source_row)
        then update set op = change.op, commit_ts = change.commit_ts, is_cdc = change.is_cdc,
                        source_file = change.source_file, source_row = change.source_row,
                        document = change.document
      when not matched then insert by name""")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def first_columns(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(files[0]).names


def prepare(paths: Paths, documents: int, events: int) -> Simulator:
    marker = paths.data_dir / f"prepared-{documents}-{events}"
    if marker.exists():
        return Simulator.open(paths.simulator_state)
    if paths.data_dir.exists():
        shutil.rmtree(paths.data_dir)
    sim = Simulator(paths.simulator_state, 42, EndpointSettings(), rows_per_file=100_000)
    log(f"generating a {documents:,}-document full load")
    sim.full_load(documents, paths.landing)
    log(f"generating {events:,} CDC events (to the outbox)")
    sim.cdc_batch(events, paths.outbox / "big")
    sim.save()
    marker.touch()
    return sim


def bench_big_batch(paths: Paths, sim: Simulator, meter: Meter) -> dict:
    log("initial load of the current-state tables (full load, not timed as (a))")
    initial = meter.apply(paths, "initial full load")
    cdc_files = sorted((paths.outbox / "big").rglob("*.parquet"))
    Delivery(paths.outbox / "big", paths.landing).land([_as_landed(paths.outbox / "big", f) for f in cdc_files])
    log(f"(a) applying {len(cdc_files)} CDC files through dbt")
    spark_seconds = meter.apply(paths, "a", record=True)
    full_load = sorted(paths.landing.rglob("LOAD*.parquet"))
    landed_cdc = sorted(p for p in paths.landing.rglob("*.parquet") if not p.name.startswith("LOAD"))
    log("(a) DuckDB yardstick on the same files")
    duck_seconds = sum(
        duckdb_apply([f for f in landed_cdc if f"/{c}/" in str(f)], [f for f in full_load if f"/{c}/" in str(f)])
        for c in ("clients", "engagements", "invoices", "journal_entries")
    )
    return {
        "initial_full_load_seconds": round(initial, 2),
        "dbt_apply_seconds": round(spark_seconds, 2),
        "duckdb_apply_seconds": round(duck_seconds, 2),
        "ratio": round(spark_seconds / duck_seconds, 2),
        "jvm_cpu_seconds": meter.cpu_seconds["a"],
        "initial_full_load_jvm_cpu_seconds": meter.cpu_seconds["initial full load"],
        "jvm_cpu_by_kind": meter.cpu_by_kind["a"],
    }


def _as_landed(root: Path, file: Path):
    from cdclake.demo.simulator import LandedFile

    return LandedFile(file.relative_to(root), 0)


def bench_history(paths: Paths, sim: Simulator, history: int, batch_events: int, repeats: int, meter: Meter) -> dict:
    delivery = Delivery(paths.outbox, paths.landing)
    timings: dict[int, float] = {}
    last = history + repeats
    for number in range(1, last + 1):
        delivery.land_batch(sim.cdc_batch(batch_events, paths.outbox), chaotic=False)
        timings[number] = meter.apply(paths, f"b{number}", record=number == last)
        log(
            f"(b) batch {number}: {timings[number]:.2f}s, JVM {meter.cpu_seconds[f'b{number}']:.2f} CPU s "
            f"{meter.cpu_by_kind[f'b{number}']}"
        )
    early = [timings[n] for n in range(2, 2 + repeats)]  # after 1, 2, 3 earlier batches
    late = [timings[n] for n in range(history + 1, history + 1 + repeats)]  # after 50, 51, 52
    return {
        "batch_events": batch_events,
        "early_seconds": early,
        "late_seconds": late,
        "ratio_of_medians": round(statistics.median(late) / statistics.median(early), 3),
        "jvm_cpu_seconds": [meter.cpu_seconds[f"b{n}"] for n in range(1, last + 1)],
        "late_jvm_cpu_by_kind": median_by_kind([meter.cpu_by_kind[f"b{n}"] for n in range(history + 1, last + 1)]),
    }


def median_by_kind(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median CPU seconds of each kind of JVM thread over `runs`."""
    kinds = sorted({kind for run in runs for kind in run})
    return {kind: round(statistics.median(run.get(kind, 0.0) for run in runs), 2) for kind in kinds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--batch-events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="record (a) and the last batch of (b) with JFR")
    args = parser.parse_args()

    paths = Paths(REPO / "data" / "bench")
    os.environ.setdefault("CDCLAKE_DATA_DIR", str(paths.data_dir))
    sim = prepare(paths, args.documents, args.events)
    # A fresh namespace each run (the Hadoop catalog has no DROP ... CASCADE).
    shutil.rmtree(paths.warehouse / SCHEMA, ignore_errors=True)
    from cdclake.spark import get_or_create_session

    meter = Meter(get_or_create_session(paths), args.profile)
    for stale in [p for p in paths.landing.rglob("*.parquet") if not p.name.startswith("LOAD")]:
        stale.unlink()

    result = {"documents": args.documents, "events": args.events, "machine": f"{os.cpu_count()} cores"}
    result["a"] = bench_big_batch(paths, sim, meter)
    log(f"(a) {result['a']}")
    result["b"] = bench_history(paths, sim, args.history, args.batch_events, args.repeats, meter)
    log(f"(b) {result['b']}")
    if meter.profiles:
        result["profiles"] = meter.profiles
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A recorded run is slower: its figures go beside the plain run's, not over them.
    (RESULTS / ("apply-profile.json" if args.profile else "apply.json")).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
