"""The reconciliation strategies on their own: both sides are MongoDB collections held by
mongomock (through the real ``MongoSource`` adapter), so no Spark is needed here.
The Iceberg side is exercised in test_reconcile.py."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mongomock
import pytest
from bson import Decimal128, Int64
from hypothesis import given
from hypothesis import strategies as st

from cdclake.catalog import Namespace
from cdclake.demo.documents import COLLECTIONS, make_document
from cdclake.reconcile.canonical import document_hash
from cdclake.reconcile.console import format_result
from cdclake.reconcile.keys import key_json
from cdclake.reconcile.lake import AppliedKeys, LastApply, PendingChanges
from cdclake.reconcile.progress import Progress
from cdclake.reconcile.recheck import InFlightLimit, InFlightSettingError, recheck, still_open
from cdclake.reconcile.result import (
    DIFFERS,
    DISCREPANCIES,
    DUPLICATE_IN_TABLE,
    EXTRA_IN_TABLE,
    IN_FLIGHT,
    MISSING_IN_TABLE,
    RECONCILED,
    Mismatch,
    ModeResult,
    OpenDifference,
    RunResult,
)
from cdclake.reconcile.run import Options, UsageError, parse_modes, reconcile
from cdclake.reconcile.segments import DigestIndex, Segment
from cdclake.reconcile.sides import Side, SourceSide
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

    files_by_key: dict[str, tuple[str, ...]] = field(default_factory=dict)
    landed_at: dict[str, dt.datetime] = field(default_factory=dict)
    newest_apply: LastApply | None = None

    def pending(self, collection: str) -> PendingChanges:
        return PendingChanges(
            1 if self.pending_keys else 0,
            len(self.pending_keys),
            frozenset(self.pending_keys),
            self.files_by_key,
            self.landed_at,
        )

    def last_apply(self, collection: str) -> LastApply | None:
        return self.newest_apply

    def keys_applied_since(self, collection: str, since: dt.datetime | None) -> AppliedKeys:
        self.asked_since.append(since)
        if not self.latest_keys:
            return AppliedKeys([], since, 0)
        return AppliedKeys(list(self.latest_keys), APPLIED_AT, 1)


def mongo_side(client: mongomock.MongoClient, monkeypatch: pytest.MonkeyPatch) -> SourceSide:
    monkeypatch.setenv("CDCLAKE_MONGO_URI", "mongodb://fake/?replicaSet=rs")
    source = MongoSource(MongoReadSettings(batch_size=500), client_factory=lambda *a, **k: client)
    return SourceSide(source, {name: Namespace("ledger", name) for name in COLLECTIONS})


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
        expected[name, key_json(docs[10]["_id"])] = (MISSING_IN_TABLE, ())
        extra = make_document(SEED, name, count + 5, 0)
        table.ledger[name].insert_one(extra)
        expected[name, key_json(extra["_id"])] = (EXTRA_IN_TABLE, ())
        if name == "clients":
            table.ledger[name].update_one({"_id": docs[1500]["_id"]}, {"$set": {"address.city": "Atlantis"}})
            expected[name, key_json(docs[1500]["_id"])] = (DIFFERS, ("address.city",))
            # 1000.50 and 1000.5 are the same number but not the same amount as booked.
            booked = {"_id": docs[2999]["_id"]}
            source.ledger[name].update_one(booked, {"$set": {"credit_limit": Decimal128("1000.50")}})
            table.ledger[name].update_one(booked, {"$set": {"credit_limit": Decimal128("1000.5")}})
            expected[name, key_json(docs[2999]["_id"])] = (DIFFERS, ("credit_limit",))
        else:
            table.ledger[name].update_one({"_id": docs[500]["_id"]}, {"$unset": {"source_invoice_id": ""}})
            expected[name, key_json(docs[500]["_id"])] = (DIFFERS, ("source_invoice_id",))  # null ≠ missing
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
    index = DigestIndex((key_json(d["_id"]), document_hash(d)) for d in docs)
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
    assert [(m["key"], m["in_flight"]) for m in json.loads(state.store.read(state.OPEN))] == [(key, True)]

    # The next apply did not fix it: the re-check confirms it and the run fails.
    lake = FakeLake()
    second = run(lake)
    assert lake.asked_since == [APPLIED_AT]  # changed picks up where the last check stopped
    assert [c.mode for c in second.checks] == ["recheck", "changed"]
    assert [(m.key, m.in_flight) for m in second.checks[0].mismatches] == [(key, False)]
    assert (second.status, second.exit_code) == (DISCREPANCIES, 1)
    # Confirmed, it stays open: re-checked first by every later run until it agrees.
    assert [(m["key"], m["in_flight"]) for m in json.loads(state.store.read(state.OPEN))] == [(key, False)]

    # A change for the key that has landed does not make it in flight again: still red.
    waiting = run(FakeLake(pending_keys={key}, latest_keys=[key]))
    assert {(c.mode, c.status) for c in waiting.checks} == {("recheck", DISCREPANCIES), ("changed", DISCREPANCIES)}
    # The apply fixes it: the re-check finds both sides agree, says so, and drops it.
    table.source._client.ledger.clients.replace_one(
        {"_id": source.documents("clients", [key])[key]["_id"]}, source.documents("clients", [key])[key]
    )
    third = run(FakeLake())
    assert third.checks[0].mode == "recheck" and third.checks[0].mismatches == []
    assert [r["key"] for r in third.checks[0].details["resolved"]] == [key]
    assert third.status == RECONCILED
    assert state.latest()["status"] == RECONCILED
    assert json.loads(state.store.read(state.OPEN)) == []


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


def fix_in_table(source: SourceSide, table: SourceSide, collection: str, key: str) -> None:
    """Make the table hold what the source holds for ``key``, whatever the difference."""
    wanted = source.documents(collection, [key]).get(key)
    held = table.documents(collection, [key]).get(key)
    documents = table.source._client.ledger[collection]
    if wanted is None:
        documents.delete_one({"_id": held["_id"]})
    else:
        documents.replace_one({"_id": wanted["_id"]}, wanted, upsert=True)


def test_a_difference_one_sample_found_stays_red_until_the_lake_agrees(sides, tmp_path: Path) -> None:
    source, table, _ = sides
    differing = {m.key for m in check_full("clients", source, table).mismatches}
    every_key = [*source.keys("clients"), *table.keys("clients")]
    drawn = {seed: set(sample_keys("clients", every_key, 400, seed)) & differing for seed in range(200)}
    finds = next(seed for seed, found in drawn.items() if found)
    misses = next(seed for seed, found in drawn.items() if not found)
    state = StateFiles(tmp_path / "reconcile")

    def run(seed: int):
        options = Options(modes=("sample",), collections=("clients",), sample_size=400, seed=seed)
        result = reconcile(source, table, FakeLake(), options, state, Progress.silent(), "mongomock")
        state.save(result)
        return result

    first = run(finds)
    assert first.status == DISCREPANCIES and {m.key for m in first.checks[0].mismatches} == drawn[finds]

    # Another sample misses them; the re-check of the open differences does not.
    second = run(misses)
    assert [(c.mode, c.status) for c in second.checks] == [("recheck", DISCREPANCIES), ("sample", RECONCILED)]
    assert (second.status, second.exit_code) == (DISCREPANCIES, 1)
    opened = json.loads(state.store.read(state.OPEN))
    assert {d["key"] for d in opened} == drawn[finds]
    assert {(d["first_seen"], d["rechecks"], d["in_flight"]) for d in opened} == {
        (first.started_at.isoformat(), 1, False)
    }
    assert {d["key"] for d in state.latest()["open_differences"]} == drawn[finds]

    for key in drawn[finds]:
        fix_in_table(source, table, "clients", key)
    third = run(misses)
    assert third.checks[0].mode == "recheck" and third.checks[0].mismatches == []
    assert {r["key"] for r in third.checks[0].details["resolved"]} == drawn[finds]
    assert (third.status, third.exit_code) == (RECONCILED, 0)
    assert json.loads(state.store.read(state.OPEN)) == []


def test_open_differences_of_a_collection_not_checked_are_carried_as_they_were(sides, tmp_path: Path) -> None:
    source, table, _ = sides
    state = StateFiles(tmp_path / "reconcile")
    first = reconcile(
        source, table, FakeLake(), Options(modes=("full",), collections=("clients",)), state, Progress.silent(), "m"
    )
    state.save(first)
    found = {m.key for m in first.checks[0].mismatches}
    assert found and first.status == DISCREPANCIES

    options = Options(modes=("counts",), collections=("journal_entries",))
    second = reconcile(source, table, FakeLake(), options, state, Progress.silent(), "m")
    state.save(second)
    assert [(c.mode, c.collection, c.status) for c in second.checks] == [
        ("counts", "journal_entries", RECONCILED),
        ("carried", "clients", DISCREPANCIES),
    ]
    assert {m.key for m in second.checks[1].mismatches} == found and second.exit_code == 1
    assert [d.to_json() for d in second.open_differences] == [d.to_json() for d in first.open_differences]


class DictSide(Side):
    """A side holding a few documents, and keys it holds twice (a broken merge)."""

    def __init__(self, documents: dict[str, dict], doubled: tuple[str, ...] = ()) -> None:
        self.held, self.doubled, self.asked = documents, list(doubled), []

    def documents(self, collection: str, keys) -> dict[str, dict]:
        keys = list(keys)
        self.asked.append(keys)
        return {key: self.held[key] for key in keys if key in self.held}

    def duplicate_keys(self, collection: str) -> list[str]:
        return self.doubled

    def count(self, collection):
        raise NotImplementedError

    def checksums(self, segments):
        raise NotImplementedError

    def digests(self, segment):
        raise NotImplementedError

    def split_points(self, segment, parts):
        raise NotImplementedError

    def keys(self, collection):
        raise NotImplementedError


def opened(key: str, kind: str = DIFFERS, in_flight: bool = False, rechecks: int = 0) -> OpenDifference:
    return OpenDifference(Mismatch("c", key, kind, in_flight), "2026-11-01T00:00:00+00:00", None, rechecks)


def test_a_recheck_keeps_what_still_differs_and_names_what_is_resolved() -> None:
    same, other = {"v": 1}, {"v": 2}
    source = DictSide({k: {"_id": k, **same} for k in "abcdef"})
    table = DictSide(
        {"a": {"_id": "a", **other}, "b": {"_id": "b", **other}, "c": {"_id": "c", **other}}
        | {k: {"_id": k, **same} for k in "def"},
        doubled=("e",),
    )
    earlier = [
        opened("a"),  # confirmed, a change for it landed: still confirmed until it agrees
        opened("b", in_flight=True),  # in flight, its change still pending: in flight
        opened("c", in_flight=True),  # in flight, nothing pending any more: confirmed
        opened("d"),  # agrees now: resolved
        opened("e", DUPLICATE_IN_TABLE),  # still held twice
        opened("f", DUPLICATE_IN_TABLE),  # held once again, and agrees: resolved
        opened("a", in_flight=True),  # listed twice (an older state): confirmed wins
    ]
    check = recheck("c", earlier, source, table, FakeLake(pending_keys={"a", "b"}))
    assert source.asked == [list("abcdef")]  # one fetch, every key once
    assert [(m.key, m.kind, m.in_flight) for m in check.mismatches] == [
        ("a", DIFFERS, False),
        ("b", DIFFERS, True),
        ("c", DIFFERS, False),
        ("e", DUPLICATE_IN_TABLE, False),
    ]
    assert [(r["key"], r["kind"]) for r in check.details["resolved"]] == [("d", DIFFERS), ("f", DUPLICATE_IN_TABLE)]
    assert (check.mode, check.compared, check.status) == ("recheck", 6, DISCREPANCIES)

    # What stays open: first seen kept, one more re-check; a new key starts its history;
    # another check confirming an in-flight key confirms it.
    later = ModeResult("sample", "c", mismatches=[Mismatch("c", "b", DIFFERS), Mismatch("c", "g", EXTRA_IN_TABLE)])
    after = {d.key: d for d in still_open(earlier, [check, later], "2026-11-30T00:00:00+00:00")}
    assert sorted(after) == ["a", "b", "c", "e", "g"]
    assert (after["b"].mismatch.in_flight, after["b"].first_seen, after["b"].rechecks) == (
        False,
        "2026-11-01T00:00:00+00:00",
        1,
    )
    assert (after["g"].first_seen, after["g"].last_checked, after["g"].rechecks) == (
        "2026-11-30T00:00:00+00:00",
        "2026-11-30T00:00:00+00:00",
        0,
    )


def test_the_in_flight_list_of_older_versions_is_read_as_open_differences(tmp_path: Path) -> None:
    state = StateFiles(tmp_path)
    state.store.write(state.IN_FLIGHT, json.dumps([asdict(Mismatch("c", "k", DIFFERS, True))]))
    assert state.load_open() == [OpenDifference(Mismatch("c", "k", DIFFERS, True), None, None)]
    state.store.write(state.OPEN, "[]")  # once there is an open list, the old one is not read
    assert state.load_open() == []


@pytest.mark.parametrize("command", ["reconcile", "checks"])
@pytest.mark.parametrize("mode", ["", " ", ",", " , "])
def test_no_mode_selected_is_a_usage_error(command: str, mode: str, capsys, monkeypatch, tmp_path: Path) -> None:
    from cdclake.cli import main

    monkeypatch.setenv("CDCLAKE_DATA_DIR", str(tmp_path))  # nothing there: the mode is refused first
    assert main([command, "--quiet", "--mode", mode]) == 2
    error = capsys.readouterr().err
    assert "no reconciliation mode selected: choose one or more of counts, changed, sample, full, or all" in error
    assert not (tmp_path / "reconcile").exists()


@pytest.mark.parametrize("modes", [(), ("",), ("counts", "everything")])
def test_options_built_in_code_refuse_an_empty_or_unknown_mode(modes: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="mode"):
        Options(modes=modes)
    assert parse_modes(None) == parse_modes(["all"]) == ("counts", "changed", "sample", "full")
    assert parse_modes(["sample, counts", "sample"]) == ("sample", "counts")


def test_an_amount_booked_as_1000_50_differs_from_1000_5(sides) -> None:
    # The fixture books the credit limit as 1000.50 in MongoDB and 1000.5 in the lake.
    source, table, expected = sides
    (key,) = [key for (name, key), (_, fields) in expected.items() if fields == ("credit_limit",)]
    assert str(source.documents("clients", [key])[key]["credit_limit"]) == "1000.50"
    assert str(table.documents("clients", [key])[key]["credit_limit"]) == "1000.5"
    result = check_changed("clients", source, table, FakeLake(latest_keys=[key]), since=None)
    (mismatch,) = result.mismatches
    (field,) = mismatch.fields
    assert (mismatch.key, mismatch.kind, field.path) == (key, DIFFERS, "credit_limit")
    assert (field.source, field.table) == ('{"$numberDecimal": "1000.50"}', '{"$numberDecimal": "1000.5"}')


def test_integer_ids_are_keys_by_value_in_every_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # int32 and int64 _ids (docs/key-identity.md): 7 stored as NumberLong(7) on one side is
    # the same key; a string "9" is not the integer 9.
    source, table = mongomock.MongoClient(), mongomock.MongoClient()
    docs = [{"_id": index, "name": f"client {index}"} for index in range(1, 300)] + [{"_id": Int64(2**40), "x": 1}]
    source.ledger.clients.insert_many([dict(d) for d in docs])
    table.ledger.clients.insert_many([{**d, "_id": Int64(7)} if d["_id"] == 7 else dict(d) for d in docs])
    table.ledger.clients.delete_one({"_id": 8})
    table.ledger.clients.insert_one({"_id": "9", "name": "client 9"})
    table.ledger.clients.update_one({"_id": Int64(2**40)}, {"$set": {"x": 2}})
    expected = {
        ("clients", "8"): (MISSING_IN_TABLE, ()),
        ("clients", '"9"'): (EXTRA_IN_TABLE, ()),
        ("clients", str(2**40)): (DIFFERS, ("x",)),
    }
    source_side, table_side = mongo_side(source, monkeypatch), mongo_side(table, monkeypatch)
    assert found([check_full("clients", source_side, table_side, Bisection(factor=4, leaf_size=8))]) == expected
    assert found([check_sample("clients", source_side, table_side, size=1_000, seed=1)]) == expected
    changed = FakeLake(latest_keys=["7", "8", '"9"', str(2**40)])
    assert found([check_changed("clients", source_side, table_side, changed, since=None)]) == expected


NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
LANDED = "s3://landing/ledger/c/2026/12/04/20261204-0915.parquet"


def aged(key: str, minutes: int, rechecks: int) -> OpenDifference:
    """An in-flight difference first seen ``minutes`` before NOW, re-checked ``rechecks`` times."""
    first_seen = (NOW - dt.timedelta(minutes=minutes)).isoformat()
    return OpenDifference(Mismatch("c", key, DIFFERS, in_flight=True), first_seen, None, rechecks)


@pytest.mark.parametrize(
    ("minutes", "rechecks", "limit", "confirmed"),
    [
        (120, 2, InFlightLimit(), True),  # an hour and three re-checks (this one the third): confirmed
        (120, 1, InFlightLimit(), False),  # old enough, but only its second re-check
        (59, 9, InFlightLimit(), False),  # re-checked often, but not an hour yet
        (60, 2, InFlightLimit(), True),  # exactly at the limit
        (30, 0, InFlightLimit(minutes=15, runs=1), True),  # the limit is a setting
    ],
)
def test_a_difference_in_flight_past_the_limit_is_confirmed_naming_the_file(minutes, rechecks, limit, confirmed):
    source = DictSide({"k": {"_id": "k", "v": 1}})
    table = DictSide({"k": {"_id": "k", "v": 2}})
    apply_run = LastApply("inv-42", NOW - dt.timedelta(minutes=5))
    lake = FakeLake(
        pending_keys={"k"}, files_by_key={"k": (LANDED,)}, landed_at={LANDED: NOW - dt.timedelta(hours=3)},
        newest_apply=apply_run,
    )  # fmt: skip
    check = recheck("c", [aged("k", minutes, rechecks)], source, table, lake, NOW, limit)
    (mismatch,) = check.mismatches
    assert mismatch.in_flight is not confirmed
    assert check.status == (DISCREPANCIES if confirmed else "in_flight")
    if confirmed:
        assert LANDED in mismatch.note and "inv-42" in mismatch.note
        assert f"over {rechecks + 1} re-check(s)" in mismatch.note
    else:
        assert mismatch.note is None


def test_a_stale_difference_says_when_no_apply_has_run_since_its_file_landed() -> None:
    source, table = DictSide({"k": {"_id": "k", "v": 1}}), DictSide({})
    lake = FakeLake(
        pending_keys={"k"}, files_by_key={"k": (LANDED,)}, landed_at={LANDED: NOW - dt.timedelta(hours=3)},
        newest_apply=LastApply("inv-1", NOW - dt.timedelta(hours=5)),  # before the file landed
    )  # fmt: skip
    (mismatch,) = recheck("c", [aged("k", 240, 5)], source, table, lake, NOW).mismatches
    assert not mismatch.in_flight and "no apply of this collection has run since it landed" in mismatch.note
    # the note and the first sighting survive into the next run's open differences
    (kept,) = still_open([aged("k", 240, 5)], [ModeResult("recheck", "c", mismatches=[mismatch])], NOW.isoformat())
    assert (kept.first_seen, kept.rechecks, kept.mismatch.note) == (aged("k", 240, 5).first_seen, 6, mismatch.note)
    assert OpenDifference.from_json(kept.to_json()) == kept
    # and the command's summary says how long it has been open, and why it is confirmed
    result = RunResult(NOW, "snapshot", "ledger", [ModeResult("recheck", "c", mismatches=[mismatch])], NOW)
    result.open_differences = [kept]
    summary = format_result(result)
    assert "c k: missing_in_table · open for 4 h 0 min" in summary and mismatch.note in summary


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"CDCLAKE_IN_FLIGHT_LIMIT_MINUTES": "0"}, "CDCLAKE_IN_FLIGHT_LIMIT_MINUTES=0"),
        ({"CDCLAKE_IN_FLIGHT_LIMIT_RUNS": "three"}, "CDCLAKE_IN_FLIGHT_LIMIT_RUNS='three'"),
        ({"CDCLAKE_IN_FLIGHT_LIMIT_RUNS": "-1"}, "CDCLAKE_IN_FLIGHT_LIMIT_RUNS=-1"),
    ],
)
def test_an_unusable_in_flight_limit_names_its_setting(environ, problem) -> None:
    with pytest.raises(InFlightSettingError) as raised:
        InFlightLimit.from_env(environ)
    assert str(raised.value).startswith(problem)
    assert InFlightLimit.from_env({}) == InFlightLimit(60, 3)
    assert InFlightLimit.from_env({"CDCLAKE_IN_FLIGHT_LIMIT_RUNS": " 5 "}).runs == 5
