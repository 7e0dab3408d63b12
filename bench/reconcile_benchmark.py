"""Benchmark of reconciliation (issue #3), measured in one run (see bench/README.md).

1,000,000 documents landed and applied by dbt, then 10 differences injected through the
generator's faults (dropped CDC events, corrupted fields, source-only and landing-only
documents) and applied. Measured:

(a) `full` mode end to end over all collections against the mongodump snapshot (Spark
    session already up; its start-up is reported apart), with the documents bisection
    compared key by key, the documents diffed, and the bytes read from the source;
(b) the same `full` run against a fake replica set (mockupdb, real pymongo on the wire),
    counting with pymongo command monitoring the commands each member receives.

Canonical-hash throughput is measured by bench/hash_benchmark.py.

    .venv/bin/python -m bench.reconcile_benchmark [--documents N] [--skip-replica-set]

Data goes to data/bench-reconcile/ (reused when the size matches); results to
bench/results/reconcile.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
from pymongo import MongoClient, monitoring

from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.documents import COLLECTIONS
from cdclake.demo.simulator import InjectedFault, Simulator
from cdclake.settings import Paths

REPO = Path(__file__).resolve().parents[1]  # the checkout: benchmarks read and write beside it

RESULTS = REPO / "bench" / "results"
SCHEMA = "bench_reconcile"
# 10 differences: every kind twice, then a dropped event and a corrupted field once more.
FAULT_ROUNDS = [
    ("dropped_event", "corrupted_field", "source_only", "landing_only"),
    ("dropped_event", "corrupted_field", "source_only", "landing_only"),
    ("dropped_event", "corrupted_field"),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def dbt_apply(paths: Paths) -> None:
    from cdclake.dbt_runner import run_dbt

    outcome = run_dbt(["run", "--select", "current_state", "--quiet"], paths, schema=SCHEMA)
    if not outcome.success:
        raise SystemExit(f"dbt failed: {outcome.error or outcome.statuses}")


def prepare(paths: Paths, documents: int) -> tuple[list[InjectedFault], dict[str, float]]:
    """The landed, applied data and its faults (made once, then reused), and how long
    the full load's apply took when it was made."""
    marker = paths.data_dir / f"prepared-{documents}.json"
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if isinstance(saved, list):  # written before the apply was timed
            saved = {"faults": saved, "timings": {}}
        return [InjectedFault(**fault) for fault in saved["faults"]], saved["timings"]
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    log(f"generating {documents:,} documents and their DMS full load")
    sim = Simulator(paths.simulator_state, 23, EndpointSettings(), rows_per_file=100_000)
    sim.full_load(documents, paths.landing)
    log("dbt: applying the full load")
    with ProcessTreeMemory() as memory:
        started = time.perf_counter()
        dbt_apply(paths)
        apply_seconds = time.perf_counter() - started
    timings = {
        "full_load_apply_seconds": round(apply_seconds, 1),
        "full_load_apply_peak_rss_gib": memory.peak_gib,
    }
    faults: list[InjectedFault] = []
    delivery = Delivery(paths.outbox, paths.landing)
    for kinds in FAULT_ROUNDS:
        files, injected = sim.inject_faults(paths.outbox, kinds)
        delivery.land(files)
        faults += injected
    log(f"dbt: applying the batch with {len(faults)} injected differences")
    dbt_apply(paths)
    log("writing the mongodump snapshot")
    sim.write_snapshot(paths.snapshot)
    sim.save()
    marker.write_text(json.dumps({"faults": [fault.__dict__ for fault in faults], "timings": timings}))
    return faults, timings


class DriverMemory:
    """The Python driver's resident memory, sampled every 50 ms while it runs: what grows
    with the collection in the driver (the JVM's cache spills to disk by itself)."""

    @staticmethod
    def _rss() -> int:
        return psutil.Process().memory_info().rss

    def __enter__(self) -> DriverMemory:
        self.before = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.before) / 2**20, 1)


class ProcessTreeMemory(DriverMemory):
    """This process and its children (the Spark JVM, its Python workers), summed."""

    @staticmethod
    def _rss() -> int:
        process = psutil.Process()
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += child.memory_info().rss
        return total

    @property
    def peak_gib(self) -> float:
        return round(self.peak / 2**30, 2)


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.by_server: Counter[tuple[str, int]] = Counter()
        self.by_name: Counter[tuple[tuple[str, int], str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.by_server[event.connection_id] += 1
        self.by_name[event.connection_id, event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def run_full(paths: Paths, source, faults: list[InjectedFault], side: str = "spark", schema: str = SCHEMA) -> dict:
    """One ``full`` run; ``side``: the source hashed by Spark tasks (``spark``, what the
    CLI does) or in the driver's one thread (``driver``, before issue 14)."""
    from cdclake.catalog import load_catalog
    from cdclake.reconcile.lake import LakeState
    from cdclake.reconcile.progress import Progress
    from cdclake.reconcile.run import Options, reconcile
    from cdclake.reconcile.scan import SparkSourceSide
    from cdclake.reconcile.sides import SourceSide
    from cdclake.reconcile.state import StateFiles
    from cdclake.reconcile.table import TableSide
    from cdclake.spark import get_or_create_session

    spark = get_or_create_session(paths)
    catalog = load_catalog(paths)
    with DriverMemory() as memory, ProcessTreeMemory() as tree:
        started = time.perf_counter()
        if side == "spark":
            source_side = SparkSourceSide(spark, source, catalog.namespaces(), Progress.on_terminal())
        else:
            source_side = SourceSide(source, catalog.namespaces(), Progress.on_terminal())
        table_side = TableSide(spark, schema, catalog)
        lake = LakeState(spark, schema, str(paths.landing), catalog)
        result = reconcile(
            source_side,
            table_side,
            lake,
            Options(modes=("full",), collections=catalog.names()),
            StateFiles(paths.data_dir / "reconcile"),
            Progress.on_terminal(),
            repr(source),
        )
        seconds = time.perf_counter() - started
    table_side.release()
    if side == "spark":
        source_side.release()
    found = {(m.collection, m.key, m.kind) for check in result.checks for m in check.mismatches}
    injected = {(f.collection, f.key, f.expected) for f in faults}
    documents = sum(check.source_count for check in result.checks)
    in_leaves = sum(check.details["documents_in_leaves"] for check in result.checks)
    return {
        "source_side": side,
        "seconds": round(seconds, 1),
        "driver_python_memory_growth_mb": memory.growth_mb,
        "peak_rss_gib_python_and_jvm": tree.peak_gib,
        "documents_source": documents,
        "documents_table": sum(check.table_count for check in result.checks),
        "differences_injected": len(injected),
        "differences_found": len(found),
        "precision_recall_100": found == injected,
        "segments_compared": sum(check.details["segments_compared"] for check in result.checks),
        "documents_compared_in_leaves": in_leaves,
        "share_compared_in_leaves_percent": round(100 * in_leaves / documents, 3),
        "documents_diffed_field_by_field": sum(check.compared for check in result.checks),
        "source_documents_read": source_side.stats.documents,
        "source_bytes_read": source_side.stats.bytes,
    }


def bench_snapshot(paths: Paths, faults: list[InjectedFault], driver_side: bool = True) -> dict:
    from cdclake.reconcile.sources import SnapshotSource
    from cdclake.spark import get_or_create_session

    started = time.perf_counter()
    get_or_create_session(paths).sql("select 1").collect()
    startup = time.perf_counter() - started
    log("full mode against the mongodump snapshot, the source hashed by Spark tasks")
    figures = run_full(paths, SnapshotSource(paths.snapshot), faults)
    log(f"{figures['seconds']} s")
    if driver_side:
        # the first Spark work of the process pays for its Python workers and a cold JVM:
        # measured again once warm, as in a long-running worker
        log("full mode against the mongodump snapshot, the source hashed by Spark tasks, warm")
        cold = figures["seconds"]
        figures = run_full(paths, SnapshotSource(paths.snapshot), faults)
        figures["seconds_first_in_process"] = cold
        log(f"{figures['seconds']} s")
        log("full mode against the mongodump snapshot, the source hashed in the driver (before)")
        before = run_full(paths, SnapshotSource(paths.snapshot), faults, side="driver")
        figures["driver_side_seconds"] = before["seconds"]
        figures["driver_side_driver_python_memory_growth_mb"] = before["driver_python_memory_growth_mb"]
        # the same findings and reads (the bisection may cut elsewhere: split points from a sample)
        same = ("documents_source", "documents_table", "differences_found", "precision_recall_100", "source_bytes_read")
        figures["driver_side_same_result"] = all(before[name] == figures[name] for name in same)
    figures["spark_session_start_seconds"] = round(startup, 1)
    figures["snapshot_bytes"] = sum(f.stat().st_size for f in paths.snapshot.rglob("*.bson"))
    return figures


def bench_replica_set(paths: Paths, faults: list[InjectedFault]) -> dict:
    from cdclake.catalog import Namespace
    from cdclake.reconcile.sources import MongoReadSettings, MongoSource, SnapshotSource
    from cdclake.testing.replica_set import FakeReplicaSet

    log("loading the snapshot into the fake replica set")
    snapshot = SnapshotSource(paths.snapshot)
    data = {name: [doc for doc, _ in snapshot.documents(Namespace("ledger", name))] for name in COLLECTIONS}
    counter = CommandCounter()
    with FakeReplicaSet(data) as replica_set:
        os.environ["CDCLAKE_MONGO_URI"] = replica_set.uri
        source = MongoSource(
            MongoReadSettings(batch_size=5_000),
            client_factory=lambda uri, **options: MongoClient(uri, event_listeners=[counter], **options),
        )
        log("full mode against the fake replica set")
        figures = run_full(paths, source, faults)
        source.close()
        members = {
            "primary": replica_set.primary.server.address,
            "secondary": replica_set.secondary.server.address,
        }
    figures["commands_sent"] = {role: counter.by_server[address] for role, address in members.items()}
    figures["commands_by_name"] = {
        role: {name: n for (server, name), n in counter.by_name.items() if server == address}
        for role, address in members.items()
    }
    figures["commands_recorded_by_primary"] = list(replica_set.primary.commands)
    # what each member received, by its own record: the Spark tasks' reads included (their
    # clients are their own, outside the driver's command monitoring)
    figures["commands_received"] = {
        "primary": dict(Counter(replica_set.primary.commands)),
        "secondary": dict(Counter(replica_set.secondary.commands)),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--skip-replica-set", action="store_true")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="one point of the scale curve: the full load's apply and `full` with the Spark side only; "
        "added to bench/results/scale.json (bench/scale_chart.py draws it)",
    )
    args = parser.parse_args()
    # the scale curve's points each in a folder of their own, made and timed alike
    folder = f"bench-reconcile-{args.documents}" if args.scale or args.documents != 1_000_000 else "bench-reconcile"
    paths = Paths(REPO / "data" / folder)
    os.environ["CDCLAKE_DATA_DIR"] = str(paths.data_dir)
    faults, timings = prepare(paths, args.documents)
    if args.scale:
        point = {"documents": args.documents, **timings, **bench_snapshot(paths, faults, driver_side=False)}
        log(json.dumps(point, indent=2))
        scale_file = RESULTS / "scale.json"
        curve = json.loads(scale_file.read_text()) if scale_file.is_file() else {}
        curve[str(args.documents)] = point
        scale_file.write_text(json.dumps(dict(sorted(curve.items(), key=lambda item: int(item[0]))), indent=2) + "\n")
        log(f"written {scale_file}")
        return
    results = {
        "documents": args.documents,
        "machine": f"{os.cpu_count()} cores",
        "snapshot": bench_snapshot(paths, faults),
    }
    log(json.dumps(results["snapshot"], indent=2))
    if not args.skip_replica_set:
        results["replica_set"] = bench_replica_set(paths, faults)
        log(json.dumps(results["replica_set"], indent=2, default=str))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reconcile.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"written {RESULTS / 'reconcile.json'}")


if __name__ == "__main__":
    main()
