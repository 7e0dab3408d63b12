"""Where reconciliation runs leave their results, locally or on S3.

``latest.json``, ``runs/<UTC time>.json`` and ``open_differences.json`` (every difference
not resolved yet, confirmed or in flight, re-checked first by the next run) are each
replaced whole: a local file by rename, an S3 object by one PUT. They are written at the
end of a run, so a run killed midway leaves the previous state intact.

``in_flight.json``, the list older versions kept (in-flight mismatches only), is read
when there is no ``open_differences.json`` yet, and no longer written.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..storage import Store, store_for
from .result import Mismatch, OpenDifference, RunResult


class StateFiles:
    LATEST = "latest.json"
    OPEN = "open_differences.json"
    IN_FLIGHT = "in_flight.json"  # older versions' list, read once in place of OPEN

    def __init__(self, store: Store | str | Path) -> None:
        self.store = store if hasattr(store, "write") else store_for(store)

    def latest(self) -> dict | None:
        text = self.store.read(self.LATEST)
        return json.loads(text) if text else None

    def load_open(self) -> list[OpenDifference]:
        """The differences the previous run left open."""
        text = self.store.read(self.OPEN)
        if text is not None:
            return [OpenDifference.from_json(item) for item in json.loads(text)]
        legacy = self.store.read(self.IN_FLIGHT)
        return [OpenDifference(Mismatch.from_json(item), None, None) for item in json.loads(legacy or "[]")]

    def save(self, result: RunResult) -> str:
        """Write the run's result, the open differences, then make the result the latest.

        Killed between two writes, the next run re-checks the newer open list against the
        older latest result: at worst a key is re-checked once more, never forgotten.
        """
        document = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        location = self.store.write(f"runs/{result.started_at:%Y%m%dT%H%M%S%fZ}.json", document)
        opened = [d.to_json() for d in result.open_differences]
        self.store.write(self.OPEN, json.dumps(opened, indent=2, ensure_ascii=False))
        self.store.write(self.LATEST, document)
        return location
