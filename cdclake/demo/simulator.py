"""The simulated source: a ``ledger`` database changing over time, captured by DMS.

State is tiny per document (a version number and whether it exists); documents are
regenerated from it (see ``documents``). Every random choice comes from the seed and the
batch number, so the same seed and the same calls give the same files, byte for byte.
"""

from __future__ import annotations

import json
import random
import shutil
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..reconcile.keys import key_json
from . import mongodump
from .dms import EndpointSettings, Event, cdc_file_name, cdc_relative_dir, write_dms_file
from .documents import COLLECTIONS, DELETABLE, document_key, make_document

# Share of the documents (full load) and of the changes (CDC) that each collection gets.
_SHARE = {"clients": 0.10, "engagements": 0.15, "invoices": 0.45, "journal_entries": 0.30}
_TASK_START_US = 1_795_996_800_000_000  # 2026-11-30 00:00:00 UTC, the DMS task's start


@dataclass
class _Collection:
    versions: array = field(default_factory=lambda: array("i"))
    alive: bytearray = field(default_factory=bytearray)

    @property
    def size(self) -> int:
        return len(self.versions)


@dataclass(frozen=True)
class LandedFile:
    """A file written by the simulated DMS, relative to the landing root."""

    relative_path: Path
    rows: int


FAULT_COLLECTIONS = {
    "dropped_event": "journal_entries",  # string keys
    "corrupted_field": "invoices",
    "source_only": "engagements",
    "landing_only": "clients",
    # An update, so clients' count still shows only the landing-only document; a sensitive
    # field, so the report has a client's email to redact.
    "corrupted_sensitive_field": "clients",
}
FAULT_KINDS = tuple(FAULT_COLLECTIONS)
# Far above any index the simulated application reaches (yet within an ObjectId's time
# field), so a landing-only key never collides with a real document.
_PHANTOM_INDEX = 50_000_000


@dataclass(frozen=True)
class InjectedFault:
    """A deliberate disagreement between the source and the landing stream, and what
    reconciliation must call it."""

    kind: str
    collection: str
    key: str  # as in the key column
    expected: str  # "differs", "missing_in_table" or "extra_in_table"
    field: str | None = None


@dataclass
class _Counters:
    clock_us: int = _TASK_START_US
    batches: int = 0
    last_file_us: dict[str, int] = field(default_factory=dict)


class Simulator:
    """The source database plus the DMS task that captures it."""

    def __init__(self, state_dir: Path, seed: int, settings: EndpointSettings, rows_per_file: int) -> None:
        self.state_dir = state_dir
        self.seed = seed
        self.settings = settings
        self.rows_per_file = rows_per_file
        self.collections = {name: _Collection() for name in COLLECTIONS}
        self.counters = _Counters()

    # -- persistence -------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> Simulator:
        meta = json.loads((state_dir / "state.json").read_text())
        sim = cls(state_dir, meta["seed"], EndpointSettings(**meta["settings"]), meta["rows_per_file"])
        sim.counters = _Counters(**meta["counters"])
        for name, coll in sim.collections.items():
            coll.versions.frombytes((state_dir / f"{name}.versions").read_bytes())
            coll.alive = bytearray((state_dir / f"{name}.alive").read_bytes())
        return sim

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name, coll in self.collections.items():
            (self.state_dir / f"{name}.versions").write_bytes(coll.versions.tobytes())
            (self.state_dir / f"{name}.alive").write_bytes(bytes(coll.alive))
        meta = {
            "seed": self.seed,
            "settings": asdict(self.settings),
            "rows_per_file": self.rows_per_file,
            "counters": asdict(self.counters),
        }
        (self.state_dir / "state.json").write_text(json.dumps(meta, indent=2))

    # -- full load ---------------------------------------------------------------------

    def full_load(self, documents: int, landing_root: Path) -> list[LandedFile]:
        """Create the source with ``documents`` documents and land DMS's full load of it.

        Full-load rows carry the task's start time (``useTaskStartTimeForFullLoadTimestamp``),
        so any change captured while the load ran sorts after it.
        """
        if any(coll.size for coll in self.collections.values()):
            raise RuntimeError(f"{self.state_dir}: the source already exists; full load happens once")
        landed = []
        for name in COLLECTIONS:
            count = max(1, round(documents * _SHARE[name]))
            coll = self.collections[name]
            coll.versions.extend([0] * count)
            coll.alive.extend(b"\x01" * count)
            events = (
                Event("I", document_key(name, i), make_document(self.seed, name, i, 0), _TASK_START_US)
                for i in range(count)
            )
            for number, chunk in enumerate(_chunks(events, self.rows_per_file), start=1):
                relative = self._collection_dir(name) / f"LOAD{number:08d}.parquet"
                rows = write_dms_file(
                    landing_root / relative, chunk, self.settings, with_op=self.settings.include_op_for_full_load
                )
                landed.append(LandedFile(relative, rows))
        self.counters.clock_us = _TASK_START_US + 1_000_000
        return landed

    # -- change data capture -----------------------------------------------------------

    def cdc_batch(self, events: int, outbox: Path) -> list[LandedFile]:
        """Apply ``events`` random changes to the source and write DMS's CDC files for them.

        Files go to ``outbox``, not to landing: when and how often they land is the
        caller's choice (see ``delivery``). Each batch includes, on one invoice, the
        sequence insert → delete → re-insert of the same ``_id``.
        """
        self.counters.batches += 1
        rng = random.Random(f"{self.seed}:batch:{self.counters.batches}")
        # One open chunk per collection keeps memory bounded by the file size, not the batch.
        pending: dict[str, list[Event]] = {name: [] for name in COLLECTIONS}
        written = []
        for collection, event in self._changes(rng, events):
            chunk = pending[collection]
            chunk.append(event)
            if len(chunk) == self.rows_per_file:
                written.append(self._write_cdc_file(collection, chunk, outbox))
                pending[collection] = []
        written += [self._write_cdc_file(name, chunk, outbox) for name, chunk in pending.items() if chunk]
        return written

    def inject_faults(
        self, outbox: Path, kinds: tuple[str, ...] = FAULT_KINDS
    ) -> tuple[list[LandedFile], list[InjectedFault]]:
        """Break the capture on purpose, once per kind, in the collections of
        ``FAULT_COLLECTIONS``, chosen so that counts can tell a missing document from an extra one:

        - ``dropped_event``: the source updates a document, DMS never writes the change;
        - ``corrupted_field``: DMS writes the change with the ``status`` value altered;
        - ``source_only``: the source inserts a document, DMS never writes it;
        - ``landing_only``: DMS writes an insert the source never had;
        - ``corrupted_sensitive_field``: DMS writes the change with the ``email`` mangled.
        """
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}: choose from {FAULT_KINDS}")
        self.counters.batches += 1
        rng = random.Random(f"{self.seed}:faults:{self.counters.batches}")
        faults, landing = [], {}
        for kind in kinds:
            name = FAULT_COLLECTIONS[kind]
            if kind == "dropped_event":
                event = self._update(rng, name, self._live_index(rng, name))
                faults.append(InjectedFault(kind, name, key_json(event.key), "differs"))
            elif kind == "corrupted_field":
                event = self._update(rng, name, self._live_index(rng, name))
                corrupted = {**event.document, "status": event.document["status"] + " (corrupted)"}
                landing.setdefault(name, []).append(Event("U", event.key, corrupted, event.commit_us))
                faults.append(InjectedFault(kind, name, key_json(event.key), "differs", "status"))
            elif kind == "corrupted_sensitive_field":
                event = self._update(rng, name, self._live_index(rng, name))
                corrupted = {**event.document, "email": event.document["email"].replace("@", " at ")}
                landing.setdefault(name, []).append(Event("U", event.key, corrupted, event.commit_us))
                faults.append(InjectedFault(kind, name, key_json(event.key), "differs", "email"))
            elif kind == "source_only":
                event = self._insert(rng, name, self.collections[name].size)
                faults.append(InjectedFault(kind, name, key_json(event.key), "missing_in_table"))
            else:
                document = make_document(self.seed, name, _PHANTOM_INDEX + self.counters.batches, 0)
                landing.setdefault(name, []).append(Event("I", document["_id"], document, self._tick(rng)))
                faults.append(InjectedFault(kind, name, key_json(document["_id"]), "extra_in_table"))
        files = [
            self._write_cdc_file(name, sorted(events, key=lambda e: e.commit_us), outbox)
            for name, events in landing.items()
        ]
        return files, faults

    def _live_index(self, rng: random.Random, name: str) -> int:
        coll = self.collections[name]
        return rng.choice([index for index in range(coll.size) if coll.alive[index]])

    def _changes(self, rng: random.Random, events: int) -> Iterator[tuple[str, Event]]:
        names, weights = list(_SHARE), list(_SHARE.values())
        yield from self._reinsert_cycle(rng)
        for _ in range(max(0, events - 3)):
            name = rng.choices(names, weights)[0]
            yield name, self._random_change(rng, name)

    def _tick(self, rng: random.Random) -> int:
        # A quarter of the events share their commit time with the one before.
        if rng.random() >= 0.25:
            self.counters.clock_us += rng.randint(1, 5_000)
        return self.counters.clock_us

    def _random_change(self, rng: random.Random, name: str) -> Event:
        coll = self.collections[name]
        roll = rng.random()
        if roll < 0.25 or coll.size == 0:
            return self._insert(rng, name, coll.size)
        index = rng.randrange(coll.size)
        if not coll.alive[index]:
            return self._insert(rng, name, index)  # a deleted key comes back
        if roll < 0.40 and name in DELETABLE:
            return self._delete(rng, name, index)
        return self._update(rng, name, index)

    def _reinsert_cycle(self, rng: random.Random) -> Iterator[tuple[str, Event]]:
        coll = self.collections["invoices"]
        index = rng.randrange(coll.size) if coll.size else 0
        if index < coll.size and coll.alive[index]:
            yield "invoices", self._update(rng, "invoices", index)
        else:
            yield "invoices", self._insert(rng, "invoices", index)
        yield "invoices", self._delete(rng, "invoices", index)
        yield "invoices", self._insert(rng, "invoices", index)

    def _insert(self, rng: random.Random, name: str, index: int) -> Event:
        coll = self.collections[name]
        if index == coll.size:
            coll.versions.append(0)
            coll.alive.append(1)
        else:
            coll.versions[index] += 1
            coll.alive[index] = 1
        return self._event("I", name, index, rng)

    def _update(self, rng: random.Random, name: str, index: int) -> Event:
        self.collections[name].versions[index] += 1
        return self._event("U", name, index, rng)

    def _delete(self, rng: random.Random, name: str, index: int) -> Event:
        self.collections[name].alive[index] = 0
        return Event("D", document_key(name, index), None, self._tick(rng))

    def _event(self, op: str, name: str, index: int, rng: random.Random) -> Event:
        document = make_document(self.seed, name, index, self.collections[name].versions[index])
        return Event(op, document["_id"], document, self._tick(rng))

    def _write_cdc_file(self, name: str, events: list[Event], outbox: Path) -> LandedFile:
        # File names are times and must stay unique and increasing within a collection.
        stamp = max(events[0].commit_us, self.counters.last_file_us.get(name, 0) + 100)
        self.counters.last_file_us[name] = stamp
        relative = self._collection_dir(name) / cdc_relative_dir(stamp, self.settings) / cdc_file_name(stamp)
        rows = write_dms_file(outbox / relative, events, self.settings, with_op=True)
        return LandedFile(relative, rows)

    def _collection_dir(self, name: str) -> Path:
        return Path(self.settings.database, name)

    # -- the source's current state ------------------------------------------------------

    def live_documents(self, name: str) -> Iterator[dict]:
        coll = self.collections[name]
        for index in range(coll.size):
            if coll.alive[index]:
                yield make_document(self.seed, name, index, coll.versions[index])

    def live_counts(self) -> dict[str, int]:
        return {name: sum(coll.alive) for name, coll in self.collections.items()}

    def write_snapshot(self, snapshot_root: Path) -> dict[str, int]:
        """Dump the current source state as mongodump would; returns documents per collection."""
        if snapshot_root.exists():
            shutil.rmtree(snapshot_root)
        return {
            name: mongodump.write_collection(snapshot_root, self.settings.database, name, self.live_documents(name))
            for name in COLLECTIONS
        }


def _chunks(events: Iterator[Event] | list[Event], size: int) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
