"""The checks stage: Great Expectations validation, reconciliation, then the report.

One implementation for ``make demo``, the DAG's local task and the EMR on EKS job. Every
result lives under one location, a local folder or ``s3://bucket/prefix``:

    <results>/quality/results/   GX results (latest.json, runs/)
    <results>/reconcile/         reconciliation results and the in-flight list
    <results>/reports/           the data-quality reports (latest/, runs/, index.html)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import load_catalog
from .reconcile.progress import Progress
from .reconcile.run import Options
from .reconcile.sources import DocumentSource
from .report.model import RED
from .report.publish import PublishedReport
from .settings import Paths, target_schema


@dataclass(frozen=True)
class ResultLocations:
    base: str

    @classmethod
    def local(cls, paths: Paths) -> ResultLocations:
        return cls(str(paths.data_dir))

    def _join(self, *parts: str) -> str:
        return "/".join([self.base.rstrip("/"), *parts])

    @property
    def quality_results(self) -> str:
        return self._join("quality", "results")

    @property
    def reconcile(self) -> str:
        return self._join("reconcile")

    @property
    def reports(self) -> str:
        return self._join("reports")


def run_checks(
    paths: Paths,
    source: DocumentSource,
    options: Options,
    locations: ResultLocations | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
) -> PublishedReport:
    """Validate, reconcile and publish the report; returns it (its status is the verdict)."""
    from .quality.validate import validate_lake
    from .reconcile.command import reconcile_and_save
    from .reconcile.console import format_result
    from .report.publish import report_on_lake
    from .spark import get_or_create_session

    locations = locations or ResultLocations.local(paths)
    catalog = load_catalog(paths)  # before any work: a missing manifest says what to run
    spark = get_or_create_session(paths)
    schema = target_schema(catalog.schema)
    say("Validating the tables with the Great Expectations suites in expectations/ …")
    quality = validate_lake(
        spark, schema, paths.quality_dir, locations.quality_results, say, catalog.table_collections()
    )
    say(f"Great Expectations: {quality.status}")
    say(f"Reconciling the tables against {source!r} ({', '.join(options.modes)}) …")
    result, _ = reconcile_and_save(paths, source, options, progress or Progress.silent(), locations.reconcile, catalog)
    say(format_result(result))
    published = report_on_lake(
        spark, schema, catalog, locations.reports, locations.reconcile, locations.quality_results
    )
    report = published.report
    say(f"Data quality: {report.status.upper()}: {report.reason}")
    say(f"Report: {published.html}")
    say(f"All runs: {published.index}")
    return published


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .reconcile.command import add_arguments as add_reconcile_arguments

    add_reconcile_arguments(parser)
    parser.add_argument(
        "--results-uri",
        help="where results and reports are kept: a folder or s3://bucket/prefix (default: the data directory)",
    )


def run_command(args: argparse.Namespace) -> int:
    """``cdclake checks``: exit 0 green or amber, 1 red, 2 a setting to fix, 3 a crash."""
    from .reconcile.command import UsageError, guarded, options_from_args, source_from_args

    paths = Paths.from_env()

    def check_once() -> int:
        if args.state_uri:
            raise UsageError("cdclake checks keeps every result under --results-uri; --state-uri is for reconcile")
        options = options_from_args(args)  # no mode selected: exit 2 before anything runs
        published = run_checks(
            paths,
            source_from_args(args, paths),
            options,
            ResultLocations(args.results_uri) if args.results_uri else None,
            Progress.silent() if args.quiet else Progress.on_terminal(),
        )
        return 1 if published.report.status == RED else 0

    return guarded(check_once)
