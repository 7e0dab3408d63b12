"""Benchmark (h): `dbt build` on the glue target (dbt-glue through the Glue stand-in)
against the local target, on the same landed data, batch by batch (issue 13).

The demo's data: a 20,000-document full load, then CDC batches of 2,000 events. Each batch
is built by both targets, one after the other, in one process and one JVM; the glue
target's statements run in Spark sessions the stand-in opens, so the ratio is what
dbt-glue's way of running SQL costs (statements as Python through the Glue API, one at a
time per session, its catalog calls), not Glue's session start-up or workers.

    .venv/bin/python -m bench.glue_target_benchmark [--documents N] [--batches N] [--events N]

Data goes to data/bench-glue/ (rebuilt each run); results to bench/results/glue_target.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

from cdclake.demo.delivery import Delivery
from cdclake.demo.dms import EndpointSettings
from cdclake.demo.simulator import Simulator
from cdclake.settings import Paths

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DATABASE = "bench_glue"


def timed_build(paths: Paths, *target: str) -> float:
    from cdclake.dbt_runner import run_dbt

    started = time.perf_counter()
    outcome = run_dbt(["build", "--quiet", *target], paths, schema=DATABASE)
    if not outcome.success:
        raise SystemExit(f"dbt build {' '.join(target)} failed: {outcome.error or outcome.statuses}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--events", type=int, default=2_000)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "tests" / "python"))  # the stand-in is test infrastructure
    from glue_standin import GlueStandIn

    from cdclake.spark import get_or_create_session

    root = REPO / "data" / "bench-glue"
    shutil.rmtree(root, ignore_errors=True)
    paths = Paths(root)
    spark = get_or_create_session(paths)
    simulator = Simulator(paths.simulator_state, 7, EndpointSettings(), rows_per_file=5_000)
    simulator.full_load(args.documents, paths.landing)
    delivery = Delivery(paths.outbox, paths.landing)
    warehouse = root / "glue-warehouse"
    rows = []
    with GlueStandIn(spark, str(warehouse)) as stand_in:
        os.environ.update(stand_in.target_environment() | {"CDCLAKE_GLUE_DATABASE": DATABASE})
        stand_in.client().create_database(DatabaseInput={"Name": DATABASE})
        for batch in range(args.batches + 1):
            if batch:
                delivery.land_batch(simulator.cdc_batch(args.events, paths.outbox), chaotic=False)
            local = timed_build(paths)
            sessions_before = stand_in.calls.count("CreateSession")
            glue = timed_build(paths, "--target", "glue")
            sessions = stand_in.calls.count("CreateSession") - sessions_before
            label = "full load" if batch == 0 else f"CDC batch {batch}"
            rows.append(
                {"batch": label, "local_s": round(local, 1), "glue_s": round(glue, 1), "glue_sessions": sessions}
            )
            print(f"{label}: local {local:.1f} s, glue {glue:.1f} s ({glue / local:.2f}x, {sessions} Glue session(s))")
    result = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "documents": args.documents,
        "events_per_batch": args.events,
        "builds": rows,
        "glue_to_local": round(sum(r["glue_s"] for r in rows) / sum(r["local_s"] for r in rows), 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "glue_target.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"glue/local over all builds: {result['glue_to_local']}x")


if __name__ == "__main__":
    main()
