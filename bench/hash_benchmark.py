"""Throughput of the canonical document hash (goal: >= 50,000 documents/s on one core).

Reconciliation hashes every document of a collection, so the hash must keep up with
reading the documents. On ~100,000 demo documents in the demo's collection mix, encoded
to BSON once (not timed), pinned to one core, best of 3 runs:

(a) decode only: ``bson.decode`` of each document, the floor of any MongoDB-side hash;
(b) decode + ``document_hash``: the MongoDB side (live secondary or mongodump);
(c) ``extended_json_hash`` of each document's ``_doc`` text, in canonical and in relaxed
    Extended JSON: the Iceberg side (goal: >= 60,000 documents/s on one core).

    .venv/bin/python -m bench.hash_benchmark [--documents N] [--runs N] [--cpu N]

Results go to bench/results/hash.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bson
import pymongo

from cdclake.demo.dms import EndpointSettings, to_extended_json
from cdclake.demo.documents import make_document
from cdclake.demo.simulator import _SHARE as COLLECTION_SHARE
from cdclake.reconcile.canonical import BSON_OPTIONS, document_hash, extended_json_hash, parse_extended_json

REPO = Path(__file__).resolve().parents[1]  # the checkout: benchmarks read and write beside it

RESULTS = REPO / "bench" / "results"
GOAL_DOCS_PER_SECOND = 50_000
GOAL_TABLE_SIDE_DOCS_PER_SECOND = 60_000  # issue 14
EJSON_MODES = ("canonical", "relaxed")
SEED = 42
DECODE_OPTIONS = BSON_OPTIONS  # as the reconciliation sources read


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def demo_documents(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` documents in the demo's collection mix and a spread of versions, shuffled
    so the collections interleave as in a real scan."""
    documents = [
        make_document(seed, collection, index, index % 4)
        for collection, share in COLLECTION_SHARE.items()
        for index in range(max(1, round(count * share)))
    ]
    random.Random(seed).shuffle(documents)
    return documents


def pin_to_one_core(cpu: int | None) -> int:
    """Run on one core only, so the figure is a single core's throughput."""
    chosen = max(os.sched_getaffinity(0)) if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def best_seconds(work: Callable[[], None], runs: int) -> float:
    """The fastest of ``runs`` timed calls (the least disturbed by the rest of the machine)."""
    timings = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def decode_only(raws: Sequence[bytes]) -> None:
    decode, options = bson.decode, DECODE_OPTIONS
    for raw in raws:
        decode(raw, codec_options=options)


def decode_and_hash(raws: Sequence[bytes]) -> None:
    decode, options, digest = bson.decode, DECODE_OPTIONS, document_hash
    for raw in raws:
        digest(decode(raw, codec_options=options))


def hash_extended_json(texts: Sequence[str]) -> None:
    digest = extended_json_hash
    for text in texts:
        digest(text)


def hash_by_the_definition(texts: Sequence[str]) -> None:
    for text in texts:
        document_hash(parse_extended_json(text))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last allowed)")
    args = parser.parse_args()

    log(f"building {args.documents:,} demo documents")
    documents = demo_documents(args.documents)
    raws = [bson.encode(document) for document in documents]
    texts = {
        mode: [to_extended_json(document, EndpointSettings(ejson=mode)) for document in documents]
        for mode in EJSON_MODES
    }
    del documents
    cpu = pin_to_one_core(args.cpu)

    seconds: dict[str, float] = {}
    for name, work in (
        ("a_decode", lambda: decode_only(raws)),
        ("b_decode_and_hash", lambda: decode_and_hash(raws)),
        *((f"c_extended_json_hash_{mode}", lambda mode=mode: hash_extended_json(texts[mode])) for mode in EJSON_MODES),
        # what (c) took before it read the text straight: the text read into bson values, then hashed
        ("c_before_parse_then_hash_canonical", lambda: hash_by_the_definition(texts["canonical"])),
    ):
        seconds[name] = best_seconds(work, args.runs)
        log(f"{name}: {len(raws) / seconds[name]:,.0f} documents/s")

    rates = {name: round(len(raws) / value) for name, value in seconds.items()}
    result = {
        "documents": len(raws),
        "bson_bytes_per_document": round(sum(map(len, raws)) / len(raws)),
        "runs": args.runs,
        "cpu": cpu,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, pymongo {pymongo.version}",
        "docs_per_second": rates,
        # (a)/(b) in documents/s: how many times slower than decoding alone hashing makes a scan.
        "ratio_a_to_b": round(seconds["b_decode_and_hash"] / seconds["a_decode"], 2),
        "goal_docs_per_second": GOAL_DOCS_PER_SECOND,
        "goal_met": rates["b_decode_and_hash"] >= GOAL_DOCS_PER_SECOND,
        "goal_table_side_docs_per_second": GOAL_TABLE_SIDE_DOCS_PER_SECOND,
        "goal_table_side_met": all(
            rates[f"c_extended_json_hash_{mode}"] >= GOAL_TABLE_SIDE_DOCS_PER_SECOND for mode in EJSON_MODES
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hash.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
