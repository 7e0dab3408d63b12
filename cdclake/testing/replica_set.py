"""A fake MongoDB replica set (mockupdb): a primary and a secondary holding the same
collections, answering the reads reconciliation makes, and recording every command each
member receives. Tests and the benchmark use it to prove that no read reaches the primary.

It speaks the real wire protocol, so the code under test is pymongo's, unmodified.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mockupdb import MockupDB
from mongomock.filtering import filter_applies

# Commands the driver sends on its own to discover and monitor the set.
HANDSHAKE = {"ismaster", "isMaster", "hello", "ping", "endSessions", "buildInfo", "buildinfo"}


@dataclass
class _Cursor:
    namespace: str
    remaining: list[dict[str, Any]]


@dataclass
class FakeMember:
    primary: bool
    data: dict[str, list[dict[str, Any]]]
    server: MockupDB = field(default_factory=MockupDB)
    commands: list[str] = field(default_factory=list)
    _cursors: dict[int, _Cursor] = field(default_factory=dict)
    _ids: Iterable[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, hosts: list[str]) -> None:
        role = {"ismaster": True, "isWritablePrimary": True} if self.primary else {"ismaster": False, "secondary": True}
        self._hello = {"setName": "rs", "hosts": hosts, "minWireVersion": 0, "maxWireVersion": 21} | role
        self.server.autoresponds(self._answer)

    def _answer(self, request) -> bool:
        name = next(iter(request.doc))
        if name in HANDSHAKE:
            return request.ok(**self._hello) if name != "endSessions" else request.ok()
        self.commands.append(name)
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return request.command_err(errmsg=f"the fake replica set does not answer {name}")
        return handler(request, request.doc)

    def _aggregate(self, request, doc: dict[str, Any]) -> bool:
        # Reconciliation sends two: count_documents({}), and a $sample of keys (the bounds
        # of the parts Spark tasks read).
        documents = self.data.get(doc["aggregate"], [])
        first = doc["pipeline"][0] if doc["pipeline"] else {}
        if "$sample" in first:
            size = first["$sample"]["size"]
            chosen = random.Random(size).sample(documents, min(size, len(documents)))
            return self._batch(
                request, _Cursor(f"ledger.{doc['aggregate']}", [{"_id": d["_id"]} for d in chosen]), None, "firstBatch"
            )
        count = len(documents)
        return request.ok(cursor={"id": 0, "firstBatch": [{"_id": 1, "n": count}], "ns": f"ledger.{doc['aggregate']}"})

    def _find(self, request, doc: dict[str, Any]) -> bool:
        documents = self.data.get(doc["find"], [])
        query = doc.get("filter", {})
        wanted = query.get("_id", {}).get("$in") if isinstance(query.get("_id"), dict) else None
        if wanted is not None:
            wanted_set = {(type(key), key) for key in wanted}
            documents = [d for d in documents if (type(d["_id"]), d["_id"]) in wanted_set]
        elif query:  # a part's _id range: matched as MongoDB matches it (mongomock's rules)
            documents = [d for d in documents if filter_applies(query, d)]
        if doc.get("projection") == {"_id": True}:
            documents = [{"_id": d["_id"]} for d in documents]
        return self._batch(
            request, _Cursor(f"ledger.{doc['find']}", list(documents)), doc.get("batchSize"), "firstBatch"
        )

    def _getMore(self, request, doc: dict[str, Any]) -> bool:  # named after the command (see _answer)
        cursor = self._cursors.pop(doc["getMore"])
        return self._batch(request, cursor, doc.get("batchSize"), "nextBatch")

    def _killCursors(self, request, doc: dict[str, Any]) -> bool:
        for cursor_id in doc.get("cursors", []):
            self._cursors.pop(cursor_id, None)
        return request.ok(cursorsKilled=doc.get("cursors", []))

    def _batch(self, request, cursor: _Cursor, size: int | None, key: str) -> bool:
        size = size or 101
        batch, cursor.remaining = cursor.remaining[:size], cursor.remaining[size:]
        cursor_id = 0
        if cursor.remaining:
            cursor_id = next(self._ids)
            self._cursors[cursor_id] = cursor
        return request.ok(cursor={"id": cursor_id, key: batch, "ns": cursor.namespace})


class FakeReplicaSet:
    """``with FakeReplicaSet(data) as rs:`` then connect with ``rs.uri``."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.primary = FakeMember(primary=True, data=data)
        self.secondary = FakeMember(primary=False, data=data)

    @property
    def uri(self) -> str:
        hosts = [self.primary.server.address_string]
        return f"mongodb://{hosts[0]}/?replicaSet=rs&serverSelectionTimeoutMS=5000&socketTimeoutMS=60000"

    def __enter__(self) -> FakeReplicaSet:
        for member in (self.primary, self.secondary):
            member.server.run()
        hosts = [self.primary.server.address_string, self.secondary.server.address_string]
        for member in (self.primary, self.secondary):
            member.start(hosts)
        return self

    def __exit__(self, *exc: object) -> None:
        for member in (self.primary, self.secondary):
            member.server.stop()
