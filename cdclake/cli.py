"""The ``cdclake`` command: simulate the source, run dbt, and show what happened."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .demo.delivery import Delivery
from .demo.dms import EndpointSettings
from .demo.simulator import Simulator
from .settings import Paths


def _simulator_exists(paths: Paths) -> bool:
    return (paths.simulator_state / "state.json").is_file()


def init_source(paths: Paths, documents: int, seed: int, settings: EndpointSettings, rows_per_file: int) -> Simulator:
    """Create the simulated source and land DMS's full load of it."""
    if _simulator_exists(paths):
        raise SystemExit(
            f"error: a simulated source already exists in {paths.simulator_state}; "
            f"remove {paths.data_dir} (or run `make clean`) to start over"
        )
    sim = Simulator(paths.simulator_state, seed, settings, rows_per_file)
    started = time.monotonic()
    files = sim.full_load(documents, paths.landing)
    _say(
        f"full load: {sum(f.rows for f in files):,} documents in {len(files)} file(s) "
        f"({time.monotonic() - started:.1f}s)"
    )
    sim.save()
    return sim


def advance_source(paths: Paths, batches: int, events: int, chaotic: bool) -> Simulator:
    """Change the source and land the CDC batches (chaotic: late and duplicate files)."""
    sim = Simulator.open(paths.simulator_state)
    delivery = Delivery(paths.outbox, paths.landing)
    for number in range(1, batches + 1):
        started = time.monotonic()
        files = sim.cdc_batch(events, paths.outbox)
        delivery.land_batch(files, chaotic=chaotic)
        _say(
            f"CDC batch {sim.counters.batches}: {sum(f.rows for f in files):,} events in {len(files)} file(s) "
            f"[{number}/{batches}] ({time.monotonic() - started:.1f}s)"
        )
    delivery.flush()
    sim.save()
    return sim


def write_snapshot(paths: Paths, sim: Simulator) -> None:
    counts = sim.write_snapshot(paths.snapshot)
    _say(f"mongodump snapshot: {sum(counts.values()):,} documents in {paths.snapshot}")


def _say(message: str) -> None:
    print(message, flush=True)


def _settings_from(args: argparse.Namespace) -> EndpointSettings:
    return EndpointSettings(
        ejson=args.ejson,
        include_op_for_full_load=args.include_op_for_full_load,
        date_folders=not args.no_date_folders,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    paths = Paths.from_env()
    if args.action == "init":
        sim = init_source(paths, args.documents, args.seed, _settings_from(args), args.rows_per_file)
    else:
        sim = advance_source(paths, args.batches, args.events, chaotic=args.chaotic)
    write_snapshot(paths, sim)
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from .dbt_runner import run_dbt

    outcome = run_dbt(args.dbt_args)
    return 0 if outcome.success else 1


def cmd_docs(args: argparse.Namespace) -> int:
    """The dbt docs site as one self-contained page (``dbt docs generate --static``),
    written beside the reports, which link to each table's page in it."""
    import shutil

    from .dbt_runner import run_dbt

    paths = Paths.from_env()
    outcome = run_dbt(["docs", "generate", "--static"], paths)
    if not outcome.success:
        print(f"dbt docs generate failed: {outcome.error}", file=sys.stderr)
        return 1
    paths.docs_dir.mkdir(parents=True, exist_ok=True)
    site = Path(shutil.copyfile(paths.dbt_dir / "target" / "static_index.html", paths.docs_dir / "index.html"))
    print(f"dbt docs: {site} (open it in a browser; the next report links each table to its page)")
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    """Iceberg upkeep of every table in the lake's schema (cdclake/maintenance.py)."""
    from .catalog import CatalogError
    from .maintenance import MaintenanceSettingError, MaintenanceSettings, lake_schema, maintain_lake
    from .spark import get_or_create_session

    paths = Paths.from_env()
    try:  # every setting and the manifest before Spark starts
        settings, schema = MaintenanceSettings.from_env(), lake_schema(paths)
    except (MaintenanceSettingError, CatalogError) as error:
        print(f"cdclake maintain: {error}", file=sys.stderr)
        return 2
    done = maintain_lake(get_or_create_session(paths), schema, settings)
    for upkeep in done:
        if upkeep.skipped:
            print(f"  {upkeep.table}: left for the next run ({upkeep.skipped})")
            continue
        print(
            f"  {upkeep.table}: {upkeep.data_files_rewritten} data file(s) rewritten into {upkeep.data_files_added}, "
            f"{upkeep.delete_files_removed} delete file(s) folded, {upkeep.files_expired} file(s) of expired "
            f"snapshots and {upkeep.orphan_files_removed} orphan(s) removed ({upkeep.seconds:.1f} s)"
        )
    return 0


def cmd_lint_sql(args: argparse.Namespace) -> int:
    """sqlfluff with the dbt templater, inside this process so that it compiles against
    the project's Spark session and writes nothing outside the data directory."""
    import os

    from sqlfluff.cli.commands import cli as sqlfluff_cli

    from .dbt_runner import dbt_environment
    from .settings import dbt_project_dir
    from .spark import get_or_create_session

    paths = Paths.from_env()
    os.environ.update(dbt_environment(paths))  # this process ends right after the lint
    get_or_create_session(paths)
    os.chdir(dbt_project_dir())
    try:
        sqlfluff_cli.main(args=[args.action, *(args.paths or ["models", "tests/dbt"])], prog_name="sqlfluff")
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .checks import run_checks
    from .dbt_runner import run_dbt
    from .demo.summary import print_run_summary
    from .reconcile.progress import Progress
    from .reconcile.recheck import InFlightLimit
    from .reconcile.run import Options
    from .reconcile.sources import SnapshotSource

    paths = Paths.from_env()
    if not _simulator_exists(paths):
        _say(f"Creating the simulated 'ledger' source ({args.documents:,} documents) in {paths.data_dir}")
        init_source(paths, args.documents, args.seed, EndpointSettings(), args.rows_per_file)
        sim = advance_source(paths, 2, args.events, chaotic=True)
    else:
        _say("Source exists: capturing the next CDC batch")
        sim = advance_source(paths, 1, args.events, chaotic=True)
    if args.inject_faults:
        _inject_faults(paths, sim)
    write_snapshot(paths, sim)
    _say("Running dbt build on local Spark + Iceberg …")
    outcome = run_dbt(["build"], paths)
    print_run_summary(paths, outcome, sim.live_counts())
    if not outcome.success and not args.inject_faults:
        return 1
    options = Options(in_flight_limit=InFlightLimit.from_env())
    published = run_checks(paths, SnapshotSource(paths.snapshot), options, progress=Progress.on_terminal(), say=_say)
    return 1 if published.report.status == "red" else 0


def _inject_faults(paths: Paths, sim: Simulator) -> None:
    """Land a batch of capture faults (see Simulator.inject_faults) for the checks to find."""
    files, faults = sim.inject_faults(paths.outbox)
    Delivery(paths.outbox, paths.landing).land(files)
    sim.save()
    _say(f"injected {len(faults)} faults: " + ", ".join(f"{f.kind} ({f.collection})" for f in faults))


def cmd_checks(args: argparse.Namespace) -> int:
    from .checks import run_command

    return run_command(args)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .reconcile.command import run_command

    return run_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdclake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="simulate the MongoDB source and land its DMS files")
    gen.add_argument("action", choices=["init", "advance"], help="init: full load; advance: CDC batches")
    gen.add_argument("--documents", type=int, default=20_000, help="documents in the full load (init)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--rows-per-file", type=int, default=50_000)
    gen.add_argument("--ejson", choices=["canonical", "relaxed"], default="canonical")
    gen.add_argument("--include-op-for-full-load", action="store_true")
    gen.add_argument("--no-date-folders", action="store_true")
    gen.add_argument("--batches", type=int, default=1, help="CDC batches to land (advance)")
    gen.add_argument("--events", type=int, default=2_000, help="events per CDC batch (advance)")
    gen.add_argument("--chaotic", action="store_true", help="land a file late and another twice")
    gen.set_defaults(func=cmd_generate)

    dbt = sub.add_parser("dbt", help="run dbt on this project (local Spark session by default)")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=cmd_dbt)

    docs = sub.add_parser("docs", help="write the dbt docs site (models, columns, tests, lineage) as one page")
    docs.set_defaults(func=cmd_docs)

    maintain = sub.add_parser(
        "maintain",
        help="Iceberg upkeep of every table: compact, fold deletes, rewrite manifests, expire snapshots, "
        "remove orphan files",
    )
    maintain.set_defaults(func=cmd_maintain)

    lint = sub.add_parser("lint-sql", help="sqlfluff (dbt templater) over models and SQL tests")
    lint.add_argument("action", nargs="?", choices=["lint", "fix"], default="lint")
    lint.add_argument("paths", nargs="*")
    lint.set_defaults(func=cmd_lint_sql)

    demo = sub.add_parser(
        "demo", help="generate (or advance) the source, dbt build, validate, reconcile, publish the report"
    )
    demo.add_argument("--documents", type=int, default=20_000)
    demo.add_argument("--events", type=int, default=2_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--rows-per-file", type=int, default=5_000)
    demo.add_argument(
        "--inject-faults", action="store_true", help="also land capture faults, to see a red report (and what it says)"
    )
    demo.set_defaults(func=cmd_demo)

    from .reconcile.command import add_arguments

    rec = sub.add_parser(
        "reconcile",
        help="compare the Iceberg tables with MongoDB (secondaries) or a mongodump",
        description="Compare each current-state table with MongoDB, read from secondaries only, or a "
        "mongodump. Exit status: 0 reconciled (in-flight mismatches allowed), 1 confirmed discrepancies, "
        "2 a usage or connection problem, 3 a crash. Details: docs/reconciliation.md.",
    )
    add_arguments(rec)
    rec.set_defaults(func=cmd_reconcile)

    from .checks import add_arguments as add_checks_arguments

    checks = sub.add_parser(
        "checks",
        help="Great Expectations, reconciliation, then the data-quality report (exit 1 when it is red)",
        description="Validate the tables with the suites in expectations/, reconcile them with MongoDB "
        "(secondaries) or a mongodump, and publish the data-quality report. Exit status: 0 green or amber, "
        "1 red, 2 a usage or connection problem, 3 a crash.",
    )
    add_checks_arguments(checks)
    checks.set_defaults(func=cmd_checks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
