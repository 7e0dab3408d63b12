"""Run the suites with Great Expectations 1.x: on Spark against the Iceberg tables, or on
pandas frames (the unit tests), with the same suite files.

GX 1.x hands one set of batch parameters to every validation definition of a checkpoint,
while each table here is its own dataframe; so a run validates each definition with its
table under one run id, then builds Data Docs once — what a checkpoint run does.

Expectations on sensitive columns (``cdclake.redaction``) run as a suite of their own,
``<table>__sensitive``, with GX told to keep no unexpected values: their failing rows are
known by key only, so neither GX's stored results nor its Data Docs hold a client's data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..redaction import REDACTED, Redactor
from ..storage import Store, store_for
from .result import ExpectationOutcome, QualityResult, SuiteOutcome
from .suites import SuiteFile, check_against_catalog, load_suites

# GX would otherwise try to send usage analytics; nothing leaves this machine.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

EXAMPLES_PER_EXPECTATION = 5


def validate_frames(
    frames: Mapping[str, Any],
    engine: str,
    context: Any | None = None,
    suites: list[SuiteFile] | None = None,
    previous_rows: Mapping[str, int] | None = None,
    run_id: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> QualityResult:
    """Validate each suite's table (``frames[table]``, a Spark or pandas dataframe)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = context or gx.get_context(mode="ephemeral")
    _quiet_progress_bars(context)
    suites = suites if suites is not None else load_suites()
    missing = sorted({s.table for s in suites} - set(frames))
    if missing:
        raise ValueError(f"no table to validate for suite(s) {missing}: build them first (dbt build)")
    started = dt.datetime.now(dt.UTC)
    run_id = run_id or started.strftime("%Y%m%dT%H%M%S%fZ")
    gx_run_id = RunIdentifier(run_name=run_id, run_time=started)
    datasource = _datasource(context, engine)
    result = QualityResult(run_id=run_id, engine=engine, started_at=started.isoformat())
    redactor = Redactor.from_env()
    for suite in suites:
        progress(f"{suite.table}: {len(suite.definition['expectations'])} expectations")
        outcomes = []
        for sensitive in (False, True):
            part = suite.expectation_suite(
                name=f"{suite.table}__sensitive" if sensitive else suite.table,
                keep=lambda e, sensitive=sensitive: _touches(e, redactor) == sensitive,
            )
            if not part.expectations:
                continue
            definition = _validation_definition(context, datasource, suite, part)
            validation = definition.run(
                batch_parameters={"dataframe": frames[suite.table]},
                expectation_parameters=suite.row_count_parameters((previous_rows or {}).get(suite.table)),
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": [suite.key],
                    "partial_unexpected_count": EXAMPLES_PER_EXPECTATION,
                    "exclude_unexpected_values": sensitive,
                },
                run_id=gx_run_id,
            )
            outcomes += [_expectation_outcome(suite, r, redactor) for r in validation.results]
        result.suites.append(_suite_outcome(suite, outcomes))
    result.finished_at = dt.datetime.now(dt.UTC).isoformat()
    return result


def validate_lake(
    spark,
    schema: str,
    quality_dir: Path,
    results_location: str | Path | None = None,
    progress: Callable[[str], None] = print,
    table_collections: Mapping[str, str] | None = None,
) -> QualityResult:
    """The suites against the Iceberg tables, in the file data context under ``quality_dir``
    (which builds the Data Docs); saves the result (``latest.json``, ``runs/``) in
    ``results_location`` (default ``quality_dir/results``; a folder or an S3 prefix)."""
    import great_expectations as gx

    suites = load_suites()
    if table_collections is not None:
        check_against_catalog(suites, table_collections)
    results = QualityResults(results_location or quality_dir / "results")
    previous = results.latest()
    context = gx.get_context(mode="file", project_root_dir=str(quality_dir))
    frames = {}
    for suite in suites:
        if not spark.catalog.tableExists(f"{schema}.{suite.table}"):
            raise ValueError(f"table {schema}.{suite.table} does not exist: run `dbt build` before the checks")
        frames[suite.table] = spark.table(f"{schema}.{suite.table}").cache()
    try:
        result = validate_frames(
            frames,
            "spark",
            context=context,
            suites=suites,
            previous_rows=previous.rows_by_table() if previous else None,
            progress=progress,
        )
    finally:
        for frame in frames.values():
            frame.unpersist()
    context.build_data_docs()
    result.data_docs = str(quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")
    results.save(result)
    return result


class QualityResults:
    """``latest.json`` and ``runs/<run>.json``, locally or on S3."""

    LATEST = "latest.json"

    def __init__(self, store: Store | str | Path) -> None:
        self.store = store if hasattr(store, "write") else store_for(store)

    def latest(self) -> QualityResult | None:
        text = self.store.read(self.LATEST)
        return QualityResult.from_json(json.loads(text)) if text else None

    def save(self, result: QualityResult) -> str:
        document = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        location = self.store.write(f"runs/{result.run_id}.json", document)
        self.store.write(self.LATEST, document)
        return location


def _quiet_progress_bars(context) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)


def _datasource(context, engine: str):
    if engine == "spark":
        return context.data_sources.add_or_update_spark(name="lake")
    if engine == "pandas":
        return context.data_sources.add_or_update_pandas(name="frames")
    raise ValueError(f"unknown engine {engine!r}: spark or pandas")


def _touches(expectation: dict, redactor: Redactor) -> bool:
    return any(redactor.is_sensitive(column) for column in _columns(expectation["kwargs"]))


def _validation_definition(context, datasource, suite: SuiteFile, part):
    import great_expectations as gx

    try:
        asset = datasource.get_asset(suite.table)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=suite.table)
    try:
        batch = asset.get_batch_definition("whole table")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("whole table")
    gx_suite = context.suites.add_or_update(part)
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=part.name, data=batch, suite=gx_suite)
    )


def _suite_outcome(suite: SuiteFile, outcomes: list[ExpectationOutcome]) -> SuiteOutcome:
    # GX returns results in its own order; the report follows the suite file's.
    order = {(e["type"], _columns(e["kwargs"])): i for i, e in enumerate(suite.definition["expectations"])}
    outcomes.sort(key=lambda o: order.get((o.expectation, o.columns), len(order)))
    rows = next(
        (int(o.observed) for o in outcomes if o.expectation == "expect_table_row_count_to_be_between" and o.observed),
        None,
    )
    return SuiteOutcome(table=suite.table, collection=suite.collection, key=suite.key, rows=rows, expectations=outcomes)


def _expectation_outcome(suite: SuiteFile, validation, redactor: Redactor) -> ExpectationOutcome:
    config = validation.expectation_config
    kwargs = config.kwargs
    columns = _columns(kwargs)
    details = validation.result or {}
    error = None
    if validation.exception_info and validation.exception_info.get("raised_exception"):
        error = validation.exception_info.get("exception_message")
    else:
        for info in (validation.exception_info or {}).values():
            if isinstance(info, dict) and info.get("raised_exception"):
                error = info.get("exception_message")
    observed = details.get("observed_value")
    return ExpectationOutcome(
        expectation=config.type,
        description=config.description or config.type.replace("_", " "),
        columns=columns,
        success=bool(validation.success) and error is None,
        rows_checked=details.get("element_count"),
        rows_failed=details.get("unexpected_count"),
        observed=None if observed is None else _text(observed),
        examples=_examples(suite.key, columns, details, redactor),
        error=error,
    )


def _columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(c for c in (kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")) if c)


def _examples(
    key: str, columns: tuple[str, ...], details: Mapping[str, Any], redactor: Redactor
) -> tuple[dict[str, str | None], ...]:
    """Failing rows as {column: value}, the key first; sensitive values redacted."""
    rows = details.get("partial_unexpected_index_list") or [
        dict(zip(columns, value if isinstance(value, tuple | list) else (value,), strict=False))
        for value in details.get("partial_unexpected_list") or []
    ]
    if len(rows) == 1 and isinstance(rows[0].get(key), list):  # keys only: {key: [k1, k2, …]}
        rows = [{key: value} for value in rows[0][key]]
    examples = []
    for row in rows[:EXAMPLES_PER_EXPECTATION]:
        shown = {key: row.get(key)}
        shown.update({name: row.get(name) for name in columns if name != key})
        examples.append(
            {name: REDACTED if redactor.is_sensitive(name) else _text(value) for name, value in shown.items()}
        )
    return tuple(examples)


def _text(value: Any) -> str | None:
    """A value as people read it: decimals as written, times in ISO 8601, no NaN/NaT."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else str(value)
