"""The readable summary of a reconciliation run."""

from __future__ import annotations

from .result import DISCREPANCIES, IN_FLIGHT, RECONCILED, CheckResult, RunResult

_WORDS = {RECONCILED: "reconciled", IN_FLIGHT: "in flight (re-checked next run)", DISCREPANCIES: "DISCREPANCIES"}
_SHOWN = 10


def _numbers(check: CheckResult) -> str:
    if check.mode == "counts":
        text = f"source {check.source_count:,} · table {check.table_count:,}"
        if check.count_differs:
            text += f" · pending rows {check.details.get('pending_rows', 0):,}"
        return text
    text = f"{check.compared:,} compared"
    if check.mode == "full":
        text = (
            f"{check.source_count:,} vs {check.table_count:,} docs · {check.details['segments_compared']} segments"
            f" · {check.details['documents_in_leaves']:,} in leaves · {check.compared} diffed"
        )
    return text


def format_result(result: RunResult) -> str:
    lines = [f"Reconciliation of {result.table_schema} against {result.source}"]
    for check in result.checks:
        lines.append(f"  {check.collection:<16} {check.mode:<8} {_WORDS[check.status]:<32} {_numbers(check)}")
    mismatches = [m for check in result.checks for m in check.mismatches]
    for mismatch in mismatches[:_SHOWN]:
        where = ", ".join(f.path for f in mismatch.fields)
        flight = " (in flight)" if mismatch.in_flight else ""
        lines.append(
            f"    {mismatch.collection} {mismatch.key}: {mismatch.kind}{flight}{' — ' + where if where else ''}"
        )
    if len(mismatches) > _SHOWN:
        lines.append(f"    … and {len(mismatches) - _SHOWN} more in the JSON result")
    lines.append(f"Result: {_WORDS[result.status]}")
    return "\n".join(lines)
