"""The readable summary of a reconciliation run."""

from __future__ import annotations

from .recheck import describe_age
from .result import CARRIED, DISCREPANCIES, IN_FLIGHT, RECHECK, RECONCILED, ModeResult, RunResult

_WORDS = {RECONCILED: "reconciled", IN_FLIGHT: "in flight (re-checked next run)", DISCREPANCIES: "DISCREPANCIES"}
_SHOWN = 10


def _numbers(check: ModeResult) -> str:
    if check.mode == RECHECK:
        resolved = len(check.details.get("resolved", ()))
        return (
            f"{check.compared:,} open difference(s) re-checked · {resolved:,} resolved · {len(check.mismatches):,} open"
        )
    if check.mode == CARRIED:
        return f"{len(check.mismatches):,} open difference(s) of earlier runs, not re-checked (collection not checked)"
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
    opened = {(d.collection, d.key): d for d in result.open_differences}
    now = result.finished_at or result.started_at
    for mismatch in mismatches[:_SHOWN]:
        where = ", ".join(f.path for f in mismatch.fields)
        flight = " (in flight)" if mismatch.in_flight else ""
        earlier = opened.get((mismatch.collection, mismatch.key))
        age = describe_age(earlier.first_seen, now) if earlier and earlier.rechecks else None
        lines.append(
            f"    {mismatch.collection} {mismatch.key}: {mismatch.kind}{flight}{' — ' + where if where else ''}"
            f"{f' · open for {age}' if age else ''}"
        )
        if mismatch.note:
            lines.append(f"      {mismatch.note}")
    if len(mismatches) > _SHOWN:
        lines.append(f"    … and {len(mismatches) - _SHOWN} more in the JSON result")
    resolved = [(c.collection, r) for c in result.checks if c.mode == RECHECK for r in c.details.get("resolved", ())]
    for collection, item in resolved[:_SHOWN]:
        lines.append(f"    {collection} {item['key']}: resolved, MongoDB and the lake agree now (was {item['kind']})")
    if len(resolved) > _SHOWN:
        lines.append(f"    … and {len(resolved) - _SHOWN} more resolved, in the JSON result")
    if result.open_differences:
        confirmed = sum(1 for d in result.open_differences if not d.mismatch.in_flight)
        lines.append(
            f"Open differences, re-checked first next run: {len(result.open_differences):,} ({confirmed:,} confirmed)"
        )
    lines.append(f"Result: {_WORDS[result.status]}")
    return "\n".join(lines)
