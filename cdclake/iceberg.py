"""What Iceberg's refusals mean to the writers of the lake (the apply, table maintenance)."""

from __future__ import annotations


def is_commit_conflict(error: object) -> bool:
    """Iceberg refused a commit because another writer committed to the table first (an
    apply beside a maintenance run, say). The loser may run again: a refused commit changed
    nothing, and one whose state is unknown is safe to repeat (the apply is idempotent, a
    compaction rewrites what it finds). Spark wraps Iceberg's exceptions; their names survive."""
    text = str(error)
    return any(kind in text for kind in ("ValidationException", "CommitFailedException", "CommitStateUnknownException"))
