"""``cdclake reconcile``: wire the sides from settings, run, print, and exit 0 / 1 / 2.

0: everything reconciled (mismatches in flight allowed); 1: confirmed discrepancies;
2: a usage or connection problem, with a message that says what to fix; 3: a crash.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from ..catalog import Catalog, CatalogError, load_catalog
from ..maintenance import MaintenanceSettingError
from ..quality.suites import SuiteFileError
from ..settings import Paths, target_schema
from .console import format_result
from .lake import LakeState
from .progress import Progress
from .recheck import InFlightLimit, InFlightSettingError
from .result import RunResult
from .run import MODES, Options, UsageError, parse_modes, reconcile
from .scan import SparkSourceSide
from .sources import DocumentSource, MongoReadSettings, MongoSource, SnapshotSource, SourceSettingsError
from .state import StateFiles
from .strategies import Bisection
from .table import TableSide

USAGE_ERROR = 2
INTERNAL_ERROR = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        action="append",
        help=f"check(s) to run, repeated or comma-separated: {', '.join(MODES)}, all (default)",
    )
    parser.add_argument("--collection", action="append", help="collection(s) to check (default: all)")
    parser.add_argument(
        "--source", choices=["snapshot", "mongodb"], default="snapshot", help="what to compare with (default: snapshot)"
    )
    parser.add_argument("--snapshot", type=Path, help="mongodump directory (default: the generator's snapshot)")
    parser.add_argument("--sample-size", type=int, default=100, help="documents per collection in sample mode")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (same seed, same documents)")
    parser.add_argument(
        "--bisection-factor", type=int, default=Bisection.factor, help="pieces per split of a mismatching segment"
    )
    parser.add_argument(
        "--leaf-size", type=int, default=Bisection.leaf_size, help="segments this small are compared key by key"
    )
    mongo = parser.add_argument_group("MongoDB (--source mongodb; the URI comes from CDCLAKE_MONGO_URI)")
    mongo.add_argument("--read-preference", default="secondary", choices=["secondary", "secondaryPreferred"])
    mongo.add_argument(
        "--allow-secondary-preferred", action="store_true", help="accept reading the primary as fallback"
    )
    mongo.add_argument("--tag-set", action="append", default=[], help="replica tags, e.g. 'use=reporting,dc=eu'")
    mongo.add_argument("--max-staleness-seconds", type=int, default=-1)
    mongo.add_argument("--batch-size", type=int, default=1_000)
    mongo.add_argument("--max-time-ms", type=int, default=60_000)
    mongo.add_argument("--max-documents-per-second", type=float)
    parser.add_argument(
        "--state-uri",
        help="where results and in-flight mismatches are kept: a folder or s3://bucket/prefix "
        "(default: data/reconcile)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def options_from_args(args: argparse.Namespace) -> Options:
    modes = parse_modes(args.mode)  # no --mode: all; an empty one: a usage error
    if args.sample_size <= 0 or args.bisection_factor < 2 or args.leaf_size <= 0:
        raise UsageError("--sample-size and --leaf-size must be positive, --bisection-factor at least 2")
    return Options(
        modes=modes,
        collections=tuple(args.collection) if args.collection else None,
        sample_size=args.sample_size,
        seed=args.seed,
        bisection=Bisection(args.bisection_factor, args.leaf_size),
        live_source=args.source == "mongodb",
        in_flight_limit=InFlightLimit.from_env(),
    )


def _tag_set(text: str) -> dict[str, str]:
    try:
        return dict(pair.split("=", 1) for pair in text.split(","))
    except ValueError:
        raise UsageError(f"--tag-set {text!r}: write tags as name=value,name=value") from None


def source_from_args(args: argparse.Namespace, paths: Paths) -> DocumentSource:
    if args.source == "snapshot":
        root = args.snapshot or paths.snapshot
        if not root.is_dir():
            raise UsageError(
                f"no mongodump snapshot at {root}: run `cdclake demo` (or `cdclake generate`), or pass --snapshot"
            )
        return SnapshotSource(root)
    settings = MongoReadSettings(
        read_preference=args.read_preference,
        allow_secondary_preferred=args.allow_secondary_preferred,
        tag_sets=tuple(_tag_set(t) for t in args.tag_set),
        max_staleness_seconds=args.max_staleness_seconds,
        batch_size=args.batch_size,
        max_time_ms=args.max_time_ms,
        max_documents_per_second=args.max_documents_per_second,
    )
    return MongoSource(settings)


def _check_tables(table: TableSide, collections: tuple[str, ...]) -> None:
    for collection in collections:
        name = table.table(collection)
        if not table.spark.catalog.tableExists(name):
            raise UsageError(f"table {name} does not exist: run `cdclake dbt build` (or `cdclake demo`) first")


def reconcile_and_save(
    paths: Paths,
    source: DocumentSource,
    options: Options,
    progress: Progress,
    state_uri: str | None = None,
    catalog: Catalog | None = None,
) -> tuple[RunResult, str]:
    """Reconcile the local warehouse's tables against ``source`` and save the result: the
    collections ``options`` names, or every one of the dbt project's ``catalog``."""
    from ..spark import get_or_create_session

    catalog = catalog or load_catalog(paths)
    options = replace(options, collections=catalog.select(options.collections))
    spark = get_or_create_session(paths)
    table = TableSide(spark, target_schema(catalog.schema), catalog)
    _check_tables(table, options.collections)
    lake = LakeState(spark, table.schema, paths.landing_uri, catalog)
    state = StateFiles(state_uri or paths.reconcile_dir)
    source_side = SparkSourceSide(spark, source, catalog.namespaces(), progress)
    try:
        result = reconcile(source_side, table, lake, options, state, progress, repr(source))
    finally:
        table.release()
        source_side.release()
    return result, state.save(result)


def run_command(args: argparse.Namespace) -> int:
    paths = Paths.from_env()
    progress = Progress.silent() if args.quiet else Progress.on_terminal()

    def reconcile_once() -> int:
        options = options_from_args(args)  # a wrong setting is said before any connection is tried
        source = source_from_args(args, paths)
        result, run_file = reconcile_and_save(paths, source, options, progress, args.state_uri)
        print(format_result(result))
        print(f"JSON result: {run_file}")
        return result.exit_code

    return guarded(reconcile_once)


# A problem the operator fixes in a setting, a file or the project: exit 2, with what to do.
SETTING_ERRORS = (
    UsageError,
    CatalogError,
    SourceSettingsError,
    SuiteFileError,
    FileNotFoundError,
    ConfigurationError,
    MaintenanceSettingError,
    InFlightSettingError,
)


def guarded(action: Callable[[], int]) -> int:
    """Run ``action``; a problem the operator can fix is exit 2 with what to do, a crash is
    exit 3 with its trace, so neither reads as "discrepancies" (exit 1)."""
    try:
        return action()
    except SETTING_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except OperationFailure as error:
        print(
            f"error: MongoDB refused a read ({error.code}): check the user's read rights and maxTimeMS",
            file=sys.stderr,
        )
        return USAGE_ERROR
    except PyMongoError as error:
        print(
            f"error: cannot read MongoDB ({type(error).__name__}): check CDCLAKE_MONGO_URI, the network and "
            "that a secondary matching the read preference and tags is up",
            file=sys.stderr,
        )
        return USAGE_ERROR
    except Exception:
        traceback.print_exc()
        print("error: the run stopped unexpectedly (the trace above says where)", file=sys.stderr)
        return INTERNAL_ERROR
