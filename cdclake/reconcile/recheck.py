"""Open differences: what a run found stays open, and is re-checked by key first in every
later run, until the lake and MongoDB agree on the document.

Like the "recheck generations" of MongoDB's migration-verifier: each run takes the open
differences of the previous one (``open_differences.json``), fetches exactly those keys
from both sides, and carries on only what still differs. So a difference that one run's
``sample`` drew is not forgotten by the next run, whose sample draws other documents.

- A confirmed difference stays confirmed (red) until both sides agree, even when a new
  change for its key has landed: it is resolved by the apply, not by the promise of one.
- An in-flight difference stays in flight while its key has a landed change the table has
  not applied; otherwise, still differing, it is confirmed. It is confirmed too once it has
  been in flight longer than the limit (``InFlightLimit``: an hour and 3 re-checks by
  default): a change that should long have applied and has not is a loss to look into,
  and its note names the landed file and the apply that should have carried it.
- A difference that is gone is dropped and named in the check's ``details.resolved``.
- Differences of a collection the run does not check are listed again, as they were, in a
  ``carried`` check: they keep their status until a run checks the collection.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .result import CARRIED, DUPLICATE_IN_TABLE, RECHECK, Mismatch, ModeResult, OpenDifference
from .sides import Side
from .strategies import compare_keys

if TYPE_CHECKING:  # the lake side is Spark's; the rechecks load without it
    from .lake import LakeState, PendingChanges


class InFlightSettingError(ValueError):
    """A limit on in-flight differences that cannot be used (names the setting)."""

    def __init__(self, setting: str, value: object) -> None:
        super().__init__(f"{setting}={value!r}: a whole number of at least 1 is expected")


_LIMIT_SETTINGS = {"minutes": "CDCLAKE_IN_FLIGHT_LIMIT_MINUTES", "runs": "CDCLAKE_IN_FLIGHT_LIMIT_RUNS"}


@dataclass(frozen=True)
class InFlightLimit:
    """How long a difference may stay in flight: past ``minutes`` since it was first seen
    *and* ``runs`` re-checks, it is confirmed. Both, so that neither a burst of runs nor one
    slow night alone turns a change still on its way into a red report."""

    minutes: int = 60
    runs: int = 3

    def __post_init__(self) -> None:
        for name, setting in _LIMIT_SETTINGS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InFlightSettingError(setting, value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> InFlightLimit:
        values = {}
        for name, setting in _LIMIT_SETTINGS.items():
            text = environ.get(setting, "").strip()
            if text:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise InFlightSettingError(setting, text) from None
        return cls(**values)

    def exceeded(self, difference: OpenDifference, now: dt.datetime) -> bool:
        """Whether ``difference``, re-checked once more at ``now``, has been in flight too long.
        One carried from a state file that kept no first sighting has no known age."""
        if difference.first_seen is None:
            return False
        age = now - dt.datetime.fromisoformat(difference.first_seen)
        return age >= dt.timedelta(minutes=self.minutes) and difference.rechecks + 1 >= self.runs


def describe_age(first_seen: str | None, now: dt.datetime) -> str | None:
    """How long ago ``first_seen`` was, in the largest two units: "2 h 5 min", "3 d 4 h"."""
    if first_seen is None:
        return None
    minutes = max(0, int((now - dt.datetime.fromisoformat(first_seen)).total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def overdue_note(difference: OpenDifference, now: dt.datetime, pending: PendingChanges, lake: LakeState) -> str:
    """Why an in-flight difference is now confirmed: how long it waited, the landed file(s)
    with a change for its key that no apply has carried, and the newest apply since."""
    files = pending.files_by_key.get(difference.key, ())
    waited = f"in flight for {describe_age(difference.first_seen, now)} over {difference.rechecks + 1} re-check(s)"
    if not files:
        return f"{waited}: a landed change for this key has not been applied"
    landed = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    oldest = min((pending.landed_at[f] for f in files if f in pending.landed_at), default=None)
    last = lake.last_apply(difference.collection)
    if last is None or (oldest is not None and last.finished_at < oldest):
        carrier = "no apply of this collection has run since it landed: is the DAG's dbt task running?"
    else:
        carrier = (
            f"the apply run {last.invocation_id} (finished {last.finished_at.isoformat(timespec='seconds')}) "
            "should have carried it: look for the file in dms_applied_files and dms_quarantine"
        )
    return f"{waited}: landed file {landed} not applied; {carrier}"


def one_per_key(differences: Iterable[OpenDifference]) -> dict[str, OpenDifference]:
    """One open difference per key of a collection; a confirmed one wins over in flight."""
    found: dict[str, OpenDifference] = {}
    for difference in differences:
        kept = found.get(difference.key)
        if kept is None or (kept.mismatch.in_flight and not difference.mismatch.in_flight):
            found[difference.key] = difference
    return found


def recheck(
    collection: str,
    earlier: Iterable[OpenDifference],
    source: Side,
    table: Side,
    lake: LakeState,
    now: dt.datetime | None = None,
    limit: InFlightLimit | None = None,
) -> ModeResult:
    """Compare again the keys of the open differences of ``collection`` (at ``now``)."""
    now = now or dt.datetime.now(dt.UTC)
    limit = limit or InFlightLimit()
    by_key = one_per_key(earlier)
    keys = sorted(by_key)
    found = {m.key: m for m in compare_keys(collection, keys, source, table)}
    # Two rows of one key look like one document to a lookup by key: ask the table again.
    doubled = [key for key in keys if by_key[key].mismatch.kind == DUPLICATE_IN_TABLE]
    if doubled:
        still = set(table.duplicate_keys(collection))
        found.update({key: Mismatch(collection, key, DUPLICATE_IN_TABLE) for key in doubled if key in still})
    waiting = [key for key in found if by_key[key].mismatch.in_flight]
    pending = lake.pending(collection) if waiting else None
    check = ModeResult(RECHECK, collection, compared=len(keys))
    for key in (key for key in keys if key in found):
        still_waiting = key in waiting and pending is not None and key in pending.keys
        if still_waiting and limit.exceeded(by_key[key], now):
            note = overdue_note(by_key[key], now, pending, lake)
            check.mismatches.append(replace(found[key], in_flight=False, note=note))
        else:
            check.mismatches.append(replace(found[key], in_flight=still_waiting))
    check.details = {
        "open_before": len(keys),
        "resolved": [
            {"key": key, "kind": by_key[key].mismatch.kind, "first_seen": by_key[key].first_seen}
            for key in keys
            if key not in found
        ],
    }
    return check


def carried(collection: str, earlier: Iterable[OpenDifference]) -> ModeResult:
    """The open differences of a collection this run did not check, as they were."""
    mismatches = [d.mismatch for d in one_per_key(earlier).values()]
    return ModeResult(
        CARRIED, collection, mismatches=sorted(mismatches, key=lambda m: m.key), details={"rechecked": False}
    )


def still_open(before: Iterable[OpenDifference], checks: Iterable[ModeResult], now: str) -> list[OpenDifference]:
    """The open differences after a run: every mismatch its checks found, once per
    collection and key (confirmed by any check wins over in flight), with when it was first
    seen and how many runs re-checked it."""
    previous = {(d.collection, d.key): d for d in before}
    merged: dict[tuple[str, str], tuple[Mismatch, bool]] = {}  # → (mismatch, only carried)
    for check in checks:
        for mismatch in check.mismatches:
            where = (mismatch.collection, mismatch.key)
            if where in merged:
                kept, only_carried = merged[where]
                mismatch = replace(
                    mismatch, in_flight=kept.in_flight and mismatch.in_flight, note=kept.note or mismatch.note
                )
                merged[where] = (mismatch, only_carried and check.mode == CARRIED)
            else:
                merged[where] = (mismatch, check.mode == CARRIED)
    differences = []
    for where, (mismatch, only_carried) in merged.items():
        old = previous.get(where)
        if old is None:
            differences.append(OpenDifference(mismatch, first_seen=now, last_checked=now))
        elif only_carried:
            differences.append(replace(old, mismatch=mismatch))
        else:
            differences.append(OpenDifference(mismatch, old.first_seen, now, old.rechecks + 1))
    return sorted(differences, key=lambda d: (d.collection, d.key))
