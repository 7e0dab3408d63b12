"""Where reconciliation runs leave their results, locally or on S3.

``latest.json``, ``runs/<UTC time>.json`` and ``in_flight.json`` (the mismatches waiting
for a re-check) are each replaced whole: a local file by rename, an S3 object by one PUT.
They are written at the end of a run, so a run killed midway leaves the previous state
intact.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..storage import Store, store_for
from .result import FieldDifference, Mismatch, RunResult


class StateFiles:
    LATEST = "latest.json"
    IN_FLIGHT = "in_flight.json"

    def __init__(self, store: Store | str | Path) -> None:
        self.store = store if hasattr(store, "write") else store_for(store)

    def latest(self) -> dict | None:
        text = self.store.read(self.LATEST)
        return json.loads(text) if text else None

    def load_in_flight(self) -> list[Mismatch]:
        text = self.store.read(self.IN_FLIGHT)
        return [
            Mismatch(**{**item, "fields": tuple(FieldDifference(**f) for f in item["fields"])})
            for item in json.loads(text or "[]")
        ]

    def save(self, result: RunResult) -> str:
        """Write the run's result, the in-flight list, then make the result the latest.

        Killed between two writes, the next run re-checks the newer in-flight list against
        the older latest result: at worst a key is re-checked once more, never forgotten.
        """
        document = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        location = self.store.write(f"runs/{result.started_at:%Y%m%dT%H%M%S%fZ}.json", document)
        self.store.write(self.IN_FLIGHT, json.dumps([asdict(m) for m in result.in_flight()]))
        self.store.write(self.LATEST, document)
        return location
