"""The MongoDB side of reconciliation: one adapter per kind of source, on a shared base.

``MongoSource`` reads a live replica set, from secondaries only: ``primary`` and
``primaryPreferred`` are refused before any connection is made, and
``secondaryPreferred`` (which falls back to the primary when no secondary is up) needs
an explicit opt-in. ``SnapshotSource`` reads a mongodump directory, the embedded default.
"""

from __future__ import annotations

import itertools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
from bson import ObjectId, json_util
from bson.codec_options import DatetimeConversion
from bson.raw_bson import DEFAULT_RAW_BSON_OPTIONS, RawBSONDocument
from pymongo import ASCENDING, MongoClient
from pymongo.read_preferences import Secondary, SecondaryPreferred

from ..catalog import Namespace
from .canonical import BSON_OPTIONS
from .keys import key_json, key_value

# Only the _id of a raw document is decoded, as the rest is: dates beyond datetime's range too.
_RAW_OPTIONS = DEFAULT_RAW_BSON_OPTIONS.with_options(datetime_conversion=DatetimeConversion.DATETIME_AUTO)

REFUSED_READ_PREFERENCES = {"primary", "primaryPreferred", "nearest"}

# Key types whose ranges the parts of a live collection are cut by; the rest is one part.
_RANGED_KEY_TYPES: dict[str, type] = {"objectId": ObjectId, "string": str}
_FILTER_JSON = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=False)


def _filter_text(query: dict[str, Any]) -> str:
    return json_util.dumps(query, json_options=_FILTER_JSON)


class SourceSettingsError(ValueError):
    """A reconciliation source setting that would be unsafe or cannot work."""


@dataclass(frozen=True)
class MongoReadSettings:
    """How reconciliation reads MongoDB. The URI (with credentials and TLS options) comes
    from the environment variable named by ``uri_env`` and is never printed."""

    uri_env: str = "CDCLAKE_MONGO_URI"
    # In AWS: the name of a Secrets Manager secret holding the URI (read with the job's role).
    uri_secret_env: str = "CDCLAKE_MONGO_URI_SECRET"
    read_preference: str = "secondary"
    allow_secondary_preferred: bool = False
    tag_sets: tuple[dict[str, str], ...] = ()
    max_staleness_seconds: int = -1  # -1: no bound; MongoDB requires at least 90 otherwise
    batch_size: int = 1_000
    max_time_ms: int = 60_000
    max_documents_per_second: float | None = None
    extra_client_options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.read_preference in REFUSED_READ_PREFERENCES:
            raise SourceSettingsError(
                f"read_preference={self.read_preference!r} may read the primary; reconciliation reads "
                "secondaries only: use 'secondary'"
            )
        if self.read_preference == "secondaryPreferred" and not self.allow_secondary_preferred:
            raise SourceSettingsError(
                "read_preference='secondaryPreferred' falls back to the primary when no secondary is up; "
                "use 'secondary', or opt in with allow_secondary_preferred=True"
            )
        if self.read_preference not in {"secondary", "secondaryPreferred"}:
            raise SourceSettingsError(f"unknown read_preference {self.read_preference!r}: use 'secondary'")
        if self.max_staleness_seconds != -1 and self.max_staleness_seconds < 90:
            raise SourceSettingsError("max_staleness_seconds must be -1 (no bound) or at least 90")
        if self.batch_size <= 0 or self.max_time_ms <= 0:
            raise SourceSettingsError("batch_size and max_time_ms must be positive")
        if self.max_documents_per_second is not None and self.max_documents_per_second <= 0:
            raise SourceSettingsError("max_documents_per_second must be positive (or unset for no limit)")
        for option in ("readPreference", "readpreference", "read_preference"):
            if option in self.extra_client_options:
                raise SourceSettingsError("set the read preference with read_preference, not a client option")

    def read_preference_object(self) -> Secondary | SecondaryPreferred:
        kind = Secondary if self.read_preference == "secondary" else SecondaryPreferred
        return kind(tag_sets=list(self.tag_sets) or None, max_staleness=self.max_staleness_seconds)


SourceDocument = tuple[dict[str, Any], int]  # a decoded document and its size as BSON, in bytes
# ... and where ``documents_at`` finds it again (None: only by its key)
ScannedDocument = tuple[dict[str, Any], int, str | None]


class DocumentSource(ABC):
    """What every side that holds source documents can do, for a collection given by its
    namespace (database, collection; from the catalog). Each document comes with its
    BSON size, so that what reconciliation reads from the source can be measured."""

    @abstractmethod
    def count(self, namespace: Namespace) -> int: ...

    @abstractmethod
    def documents(self, namespace: Namespace) -> Iterator[SourceDocument]:
        """Every document of the collection, in no particular order."""

    @abstractmethod
    def documents_by_key(self, namespace: Namespace, keys: Iterable[str]) -> Iterator[SourceDocument]:
        """The documents whose key (``keys.key_json``) is in ``keys``."""

    @abstractmethod
    def keys(self, namespace: Namespace) -> Iterator[str]:
        """The key (``keys.key_json``) of every document."""

    @abstractmethod
    def partitions(self, namespace: Namespace, parallelism: int) -> list[str]:
        """Disjoint parts that together hold every document, at least ``parallelism`` of
        them where the collection is large enough, each described as text for ``scan``
        (in a Spark task, in another process or on another machine)."""

    @abstractmethod
    def scan(self, namespace: Namespace, part: str) -> Iterator[ScannedDocument]:
        """The documents of one part of ``partitions``, each with where it is."""

    # Whether ``scan`` gives each document a locator that ``documents_at`` finds it by: a
    # fixed source (a mongodump), where what a scan saw is what is there.
    locates = False

    def documents_at(self, namespace: Namespace, locators: Iterable[str]) -> Iterator[SourceDocument]:
        """The documents ``scan`` gave these locators (sources that ``locate``)."""
        raise NotImplementedError(f"{self!r} finds documents by key only")

    def task_environment(self) -> dict[str, str]:
        """The environment variables a task running ``scan`` reads its settings from."""
        return {}


class SnapshotSource(DocumentSource):
    """A mongodump directory (what ``mongodump --readPreference=secondary`` writes)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    locates = True

    def __repr__(self) -> str:
        return f"SnapshotSource({str(self.root)!r})"

    def _raw(self, namespace: Namespace) -> Iterator[bytes]:
        return read_raw_collection(self.root, namespace.database, namespace.collection)

    def count(self, namespace: Namespace) -> int:
        return sum(1 for _ in self._raw(namespace))

    def documents(self, namespace: Namespace) -> Iterator[SourceDocument]:
        return ((bson.decode(raw, codec_options=BSON_OPTIONS), len(raw)) for raw in self._raw(namespace))

    def documents_by_key(self, namespace: Namespace, keys: Iterable[str]) -> Iterator[SourceDocument]:
        wanted = set(keys)
        for raw in self._raw(namespace):
            if key_json(RawBSONDocument(raw, _RAW_OPTIONS)["_id"]) in wanted:
                yield bson.decode(raw, codec_options=BSON_OPTIONS), len(raw)

    def keys(self, namespace: Namespace) -> Iterator[str]:
        return (key_json(RawBSONDocument(raw, _RAW_OPTIONS)["_id"]) for raw in self._raw(namespace))

    def partitions(self, namespace: Namespace, parallelism: int) -> list[str]:
        """Byte ranges ``start:stop`` of the collection's file, cut at document boundaries
        (found by reading each document's length only): ``parallelism`` ranges, or a
        multiple of it when each would hold over ``PART_BYTES``."""
        path = collection_path(self.root, namespace.database, namespace.collection)
        size = path.stat().st_size
        if not size:
            return ["0:0"]
        # Parts of about PART_BYTES at most, as many as a multiple of the parallelism (no core
        # waits on a last, lone part).
        parallelism = max(parallelism, 1)
        count = -(-max(parallelism, -(-size // PART_BYTES)) // parallelism) * parallelism
        target = max(-(-size // count), 1)
        bounds = [0]
        # Buffered reads of the lengths (about 0.4 us a document), not a memory map: its
        # pages would count in this process's memory, as large as the file.
        with path.open("rb") as file:
            offset, cut = 0, target
            while offset < size:
                file.seek(offset)
                length = int.from_bytes(file.read(4), "little")
                if length < 5 or offset + length > size:
                    raise ValueError(f"{path}: truncated or corrupt BSON document at byte {offset}")
                offset += length
                if cut <= offset < size:
                    bounds.append(offset)
                    cut = offset + target
        bounds.append(size)
        return [f"{start}:{stop}" for start, stop in itertools.pairwise(bounds)]

    def scan(self, namespace: Namespace, part: str) -> Iterator[ScannedDocument]:
        start, stop = (int(bound) for bound in part.split(":"))
        located = read_located(self.root, namespace.database, namespace.collection, start, stop)
        return ((bson.decode(raw, codec_options=BSON_OPTIONS), len(raw), str(offset)) for offset, raw in located)

    def documents_at(self, namespace: Namespace, locators: Iterable[str]) -> Iterator[SourceDocument]:
        """By byte offset: a seek each, where ``documents_by_key`` reads the whole file."""
        path = collection_path(self.root, namespace.database, namespace.collection)
        with path.open("rb") as file:
            for offset in sorted(int(locator) for locator in locators):
                file.seek(offset)
                header = file.read(4)
                raw = header + file.read(int.from_bytes(header, "little") - 4)
                yield bson.decode(raw, codec_options=BSON_OPTIONS), len(raw)


# A snapshot part: big enough that a task's start-up does not count, small enough that
# the parts of a large collection spread over every executor.
PART_BYTES = 128 * 1024 * 1024


def collection_path(root: Path, database: str, collection: str) -> Path:
    path = root / database / f"{collection}.bson"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such collection in the snapshot (was mongodump run for '{database}'?)")
    return path


def read_raw_collection(root: Path, database: str, collection: str) -> Iterator[bytes]:
    """The documents of one collection of a mongodump directory
    (``<root>/<database>/<collection>.bson``), as raw BSON, in file order."""
    return (raw for _, raw in read_located(root, database, collection))


def read_located(
    root: Path, database: str, collection: str, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """The raw documents of a collection's file from byte ``start`` (a document
    boundary) to ``stop``, each with its byte offset."""
    path = collection_path(root, database, collection)
    with path.open("rb") as source:
        source.seek(start)
        position = start
        while (stop is None or position < stop) and (header := source.read(4)):
            size = int.from_bytes(header, "little")
            body = source.read(size - 4)
            if len(header) < 4 or len(body) != size - 4:
                raise ValueError(f"{path}: truncated BSON document at byte {position}")
            yield position, header + body
            position += size


def connection_string(settings: MongoReadSettings, secrets_client=None) -> str:
    """The URI from the environment, or from the Secrets Manager secret it names."""
    uri = os.environ.get(settings.uri_env)
    secret = os.environ.get(settings.uri_secret_env)
    if not uri and secret:
        if secrets_client is None:
            import boto3

            secrets_client = boto3.client("secretsmanager")
        uri = secrets_client.get_secret_value(SecretId=secret)["SecretString"]
    if not uri:
        raise SourceSettingsError(
            f"set {settings.uri_env} to the replica set's connection string, or {settings.uri_secret_env} "
            "to the name of a Secrets Manager secret holding it"
        )
    return uri


class MongoSource(DocumentSource):
    """A live replica set, read from secondaries only, with bounded load."""

    def __init__(self, settings: MongoReadSettings, client_factory: Callable[..., MongoClient] = MongoClient) -> None:
        settings.validate()  # before any connection
        uri = connection_string(settings)
        self.settings = settings
        # These options override any readPreference the URI carries.
        self._client = client_factory(
            uri,
            readPreference=settings.read_preference,
            maxStalenessSeconds=settings.max_staleness_seconds,
            # Decode as the snapshot is decoded (canonical.BSON_OPTIONS): dates beyond datetime's range too.
            datetime_conversion="DATETIME_AUTO",
            **settings.extra_client_options,
        )
        self._sleep = time.sleep

    def __repr__(self) -> str:  # never the URI: it may carry credentials
        return f"MongoSource(read_preference={self.settings.read_preference!r})"

    def _collection(self, namespace: Namespace):
        return self._client[namespace.database].get_collection(
            namespace.collection, read_preference=self.settings.read_preference_object()
        )

    def _find(self, namespace: Namespace, query: dict[str, Any], **options: Any):
        return self._collection(namespace).find(
            query, batch_size=self.settings.batch_size, max_time_ms=self.settings.max_time_ms, **options
        )

    def count(self, namespace: Namespace) -> int:
        return self._collection(namespace).count_documents({}, maxTimeMS=self.settings.max_time_ms)

    def documents(self, namespace: Namespace) -> Iterator[SourceDocument]:
        return self._sized(self._rate_limited(self._find(namespace, {})))

    def documents_by_key(self, namespace: Namespace, keys: Iterable[str]) -> Iterator[SourceDocument]:
        keys = list(keys)
        for start in range(0, len(keys), self.settings.batch_size):
            batch = keys[start : start + self.settings.batch_size]
            # $in compares numbers by value, as the key does: 1 finds 1, NumberLong(1) and 1.0.
            ids = [key_value(key) for key in batch]
            yield from self._sized(self._rate_limited(self._find(namespace, {"_id": {"$in": ids}})))

    def partitions(self, namespace: Namespace, parallelism: int) -> list[str]:
        """``_id`` ranges, as filters in canonical Extended JSON. Bounds come from a
        ``$sample`` of keys on the secondary (no primary, no command beyond a read).
        Ranges only compare within one BSON type (MongoDB's type bracketing): ObjectId and
        string keys are cut into ranges; every other key type is one more part."""
        parts = max(parallelism, 1) * 2
        if parts <= 2:
            return [_filter_text({})]
        sampled = [
            document["_id"]
            for document in self._collection(namespace).aggregate(
                [{"$sample": {"size": parts * 32}}, {"$project": {"_id": True}}], maxTimeMS=self.settings.max_time_ms
            )
        ]
        filters = []
        for type_name, kind in _RANGED_KEY_TYPES.items():
            cuts = sorted({key for key in sampled if type(key) is kind})
            share = round(parts * len(cuts) / max(len(sampled), 1))
            step = len(cuts) / max(share, 1)
            bounds = [None, *(cuts[int(step * i)] for i in range(1, share)), None]
            for low, high in itertools.pairwise(bounds):
                condition: dict[str, Any] = {"$type": type_name}
                if low is not None:
                    condition["$gte"] = low
                if high is not None:
                    condition["$lt"] = high
                filters.append({"_id": condition})
        filters.append({"$and": [{"_id": {"$not": {"$type": type_name}}} for type_name in _RANGED_KEY_TYPES]})
        return [_filter_text(query) for query in filters]

    def scan(self, namespace: Namespace, part: str) -> Iterator[ScannedDocument]:
        query = json_util.loads(part, json_options=_FILTER_JSON)
        # Simple collation: strings compare by their bytes, as the bounds were sorted.
        found = self._sized(self._rate_limited(self._find(namespace, query, collation={"locale": "simple"})))
        return ((document, size, None) for document, size in found)

    def task_environment(self) -> dict[str, str]:
        names = (self.settings.uri_env, self.settings.uri_secret_env)
        return {name: os.environ[name] for name in names if name in os.environ}

    def __getstate__(self) -> dict[str, Any]:
        # A Spark task gets the settings, not the connection: it opens its own, with the
        # URI from its environment (or the secret its role reads).
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"])  # type: ignore[misc]

    def keys(self, namespace: Namespace) -> Iterator[str]:
        # Only _id, read through the _id index (hinted): a covered query, so the secondary
        # never loads a document.
        cursor = self._find(namespace, {}, projection={"_id": True}).hint([("_id", ASCENDING)])
        return (key_json(doc["_id"]) for doc in self._rate_limited(cursor))

    @staticmethod
    def _sized(documents: Iterable[dict[str, Any]]) -> Iterator[SourceDocument]:
        # The driver does not expose wire sizes; the BSON size is the same number.
        return ((document, len(bson.encode(document))) for document in documents)

    def _rate_limited(self, documents: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        limit = self.settings.max_documents_per_second
        started = time.monotonic()
        for number, document in enumerate(documents, start=1):
            if limit:
                ahead = number / limit - (time.monotonic() - started)
                if ahead > 0:
                    self._sleep(ahead)
            yield document

    def close(self) -> None:
        self._client.close()
