"""The reconciliation strategies on their own: both sides are MongoDB collections held by
mongomock (through the real ``MongoSource`` adapter), so no Spark is needed here.
The Iceberg side is exercised in test_reconcile.py."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import mongomock
import pytest
from bson import Decimal128, Int64
from hypothesis import given
from hypothesis import strategies as st

from cdclake.generator.documents import make_document
from cdclake.reconcile.canonical import document_hash
from cdclake.reconcile.lake import AppliedKeys, PendingChanges
from cdclake.reconcile.progress import Progress
from cdclake.reconcile.result import DIFFERS, DISCREPANCIES, EXTRA_IN_TABLE, IN_FLIGHT, MISSING_IN_TABLE, RECONCILED
from cdclake.reconcile.run import Options, reconcile
from cdclake.reconcile.segments import DigestIndex, Segment
from cdclake.reconcile.sides import SourceSide
from cdclake.reconcile.sources import MongoReadSettings, MongoSource
from cdclake.reconcile.state import StateFiles
from cdclake.reconcile.strategies import Bisection, check_changed, check_counts, check_full, check_sample, sample_keys

SEED = 3


APPLIED_AT = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


@dataclass
class FakeLake:
    """The lake's bookkeeping, as the strategies see it."""

    schema: str = "ledger"
    pending_keys: set[str] = field(default_factory=set)
    latest_keys: list[str] = field(default_factory=list)
    asked_since: list[dt.datetime | None] = field(default_factory=list)

    def watermark(self, collection: str) -> dt.datetime:
        return dt.datetime(2026, 11, 30, tzinfo=dt.UTC)

    def pending(self, collection: str) -> PendingChanges:
        return PendingChanges(1 if self.pending_keys else 0, len(self.pending_keys), frozenset(self.pending_keys))

    def keys_applied_since(self, collection: str, since: dt.datetime | None) -> AppliedKeys:
        self.asked_since.append(since)
        if not self.latest_keys:
            return AppliedKeys([], since, 0)
        return AppliedKeys(list(self.latest_keys), APPLIED_AT, 1)


def mongo_side(client: mongomock.MongoClient, monkeypatch: pytest.MonkeyPatch) -> SourceSide:
    monkeypatch.setenv("CDCLAKE_MONGO_URI", "mongodb://fake/?replicaSet=rs")
    return SourceSide(MongoSource(MongoReadSettings(batch_size=500), client_factory=lambda *a, **k: client))


@pytest.fixture
def sides(monkeypatch: pytest.MonkeyPatch):
    """The same documents on both sides, then four deliberate differences per collection."""
    source, table = mongomock.MongoClient(), mongomock.MongoClient()
    expected: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for name, count in (("clients", 3_000), ("journal_entries", 1_000)):
        docs = [make_document(SEED, name, index, 0) for index in range(count)]
        source.ledger[name].insert_many([dict(d) for d in docs])
        table.ledger[name].insert_many([dict(d) for d in docs])
        # Same value, other BSON integer width: not a difference (docs/canonical-form.md).
        table.ledger[name].update_one({"_id": docs[1]["_id"]}, {"$set": {"version": Int64(0)}})
        table.ledger[name].delete_one({"_id": docs[10]["_id"]})
        expected[name, str(docs[10]["_id"])] = (MISSING_IN_TABLE, ())
        extra = make_document(SEED, name, count + 5, 0)
        table.ledger[name].insert_one(extra)
        expected[name, str(extra["_id"])] = (EXTRA_IN_TABLE, ())
        if name == "clients":
            table.ledger[name].update_one({"_id": docs[1500]["_id"]}, {"$set": {"address.city": "Atlantis"}})
            expected[name, str(docs[1500]["_id"])] = (DIFFERS, ("address.city",))
            # 1000.50 and 1000.5 are the same number but not the same amount as booked.
            digits = str(docs[2999]["credit_limit"].to_decimal().normalize())
            table.ledger[name].update_one({"_id": docs[2999]["_id"]}, {"$set": {"credit_limit": Decimal128(digits)}})
            if digits != str(docs[2999]["credit_limit"]):
                expected[name, str(docs[2999]["_id"])] = (DIFFERS, ("credit_limit",))
        else:
            table.ledger[name].update_one({"_id": docs[500]["_id"]}, {"$unset": {"source_invoice_id": ""}})
            expected[name, str(docs[500]["_id"])] = (DIFFERS, ("source_invoice_id",))  # null ≠ missing
    return mongo_side(source, monkeypatch), mongo_side(table, monkeypatch), expected


def found(results) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    return {(m.collection, m.key): (m.kind, tuple(f.path for f in m.fields)) for r in results for m in r.mismatches}


@given(
    keys=st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=40),
    points=st.lists(st.text(max_size=4), max_size=10),
)
def test_split_segments_cover_the_range_exactly_once(keys: list[str], points: list[str]) -> None:
    whole = Segment("c", "b", None)
    pieces = whole.split(points)
    assert pieces[0].low == whole.low and pieces[-1].high == whole.high
    assert all(a.high == b.low for a, b in itertools.pairwise(pieces))
    for key in keys:
        assert sum(piece.contains(key) for piece in pieces) == int(whole.contains(key))


def test_checksums_of_the_pieces_add_up_to_the_whole() -> None:
    docs = [make_document(SEED, "clients", index, 0) for index in range(500)]
    index = DigestIndex((str(d["_id"]), document_hash(d)) for d in docs)
    whole = Segment("clients")
    pieces = whole.split(index.split_points(whole, 7))
    sums = [index.checksum(piece) for piece in pieces]
    assert len(pieces) == 7 and sum(s.count for s in sums) == 500
    total = index.checksum(whole)
    xor_high = xor_low = 0
    for s in sums:
        xor_high, xor_low = xor_high ^ s.xor_high, xor_low ^ s.xor_low
    assert (xor_high, xor_low) == (total.xor_high, total.xor_low)


def test_full_mode_finds_exactly_the_differences_and_diffs_only_them(sides) -> None:
    source, table, expected = sides
    bisection = Bisection(factor=8, leaf_size=64)
    results = [check_full(name, source, table, bisection) for name in ("clients", "journal_entries")]
    assert found(results) == expected
    for result in results:
        # Only leaf segments are compared key by key, and only differing keys are fetched.
        assert result.details["documents_in_leaves"] <= len(result.mismatches) * bisection.leaf_size
        assert result.compared == len(result.mismatches)


def test_full_mode_lists_every_digest_once_when_differences_are_everywhere(sides) -> None:
    source, table, expected = sides
    bisection = Bisection(factor=8, leaf_size=2, max_level_segments=4)
    results = [check_full(name, source, table, bisection) for name in ("clients", "journal_entries")]
    assert found(results) == expected
    assert all(result.details.get("listed_every_digest") for result in results)


def test_sample_is_reproducible_and_reports_only_real_differences(sides) -> None:
    source, table, expected = sides
    first = check_sample("clients", source, table, size=400, seed=9)
    again = check_sample("clients", source, table, size=400, seed=9)
    assert found([first]) == found([again])
    drawn = set(sample_keys("clients", [*source.keys("clients"), *table.keys("clients")], 400, 9))
    assert len(drawn) == 400
    assert found([first]) == {k: v for k, v in expected.items() if k[0] == "clients" and k[1] in drawn}
    everything = check_sample("clients", source, table, size=10_000, seed=9)
    assert found([everything]) == {k: v for k, v in expected.items() if k[0] == "clients"}


def test_changed_mode_compares_only_what_the_latest_run_applied(sides) -> None:
    source, table, expected = sides
    differing = [key for (name, key), (kind, _) in expected.items() if name == "clients" and kind == DIFFERS]
    same = source.keys("clients")[100]
    result = check_changed("clients", source, table, FakeLake(latest_keys=[differing[0], same]), since=None)
    assert result.compared == 2
    assert found([result]) == {("clients", differing[0]): expected["clients", differing[0]]}


def test_counts_are_judged_against_pending_changes(sides) -> None:
    source, table, _ = sides
    source.source._client.ledger.clients.delete_one({})  # the table now has one more
    settled = check_counts("clients", source, table, FakeLake())
    assert (settled.source_count, settled.table_count, settled.status) == (2_999, 3_000, DISCREPANCIES)
    lagging = check_counts("clients", source, table, FakeLake(pending_keys={"any"}))
    assert lagging.status == IN_FLIGHT


def test_in_flight_mismatches_are_rechecked_and_only_confirmed_ones_fail(sides, tmp_path: Path) -> None:
    source, table, expected = sides
    key = next(key for (name, key), (kind, _) in expected.items() if name == "clients" and kind == DIFFERS)
    options = Options(modes=("changed",), collections=("clients",))
    state = StateFiles(tmp_path / "reconcile")

    def run(lake: FakeLake):
        result = reconcile(source, table, lake, options, state, Progress.silent(), "mongomock")
        state.save(result)
        return result

    first = run(FakeLake(pending_keys={key}, latest_keys=[key]))
    assert (first.status, first.exit_code) == (IN_FLIGHT, 0)
    assert [m["key"] for m in json.loads(state.store.read(state.IN_FLIGHT))] == [key]

    # The next apply did not fix it: the re-check confirms it and the run fails.
    lake = FakeLake()
    second = run(lake)
    assert lake.asked_since == [APPLIED_AT]  # changed picks up where the last check stopped
    assert [c.mode for c in second.checks] == ["recheck", "changed"]
    assert [(m.key, m.in_flight) for m in second.checks[0].mismatches] == [(key, False)]
    assert (second.status, second.exit_code) == (DISCREPANCIES, 1)
    assert json.loads(state.store.read(state.IN_FLIGHT)) == []

    # A mismatch that the next apply does fix disappears on re-check.
    run(FakeLake(pending_keys={key}, latest_keys=[key]))
    table.source._client.ledger.clients.replace_one(
        {"_id": source.documents("clients", [key])[key]["_id"]}, source.documents("clients", [key])[key]
    )
    third = run(FakeLake())
    assert third.checks[0].mode == "recheck" and third.checks[0].mismatches == []
    assert third.status == RECONCILED
    assert state.latest()["status"] == RECONCILED


def test_a_live_source_confirms_a_new_difference_only_on_its_recheck(sides, tmp_path: Path) -> None:
    source, table, expected = sides
    key = next(key for (name, key), (kind, _) in expected.items() if name == "clients" and kind == DIFFERS)
    options = Options(modes=("changed", "counts"), collections=("clients",), live_source=True)
    state = StateFiles(tmp_path / "reconcile")
    source.source._client.ledger.clients.delete_one({"_id": source.documents("clients", [key])[key]["_id"]})

    first = reconcile(source, table, FakeLake(latest_keys=[key]), options, state, Progress.silent(), "live")
    state.save(first)
    # Not landed yet may mean not captured yet: wait for the re-check.
    assert [(m.key, m.kind, m.in_flight) for m in first.checks[0].mismatches] == [(key, EXTRA_IN_TABLE, True)]
    assert first.checks[1].count_differs and first.status == IN_FLIGHT

    second = reconcile(source, table, FakeLake(), options, state, Progress.silent(), "live")
    assert [(c.mode, c.status) for c in second.checks] == [
        ("recheck", DISCREPANCIES),
        ("changed", RECONCILED),
        ("counts", DISCREPANCIES),
    ]
