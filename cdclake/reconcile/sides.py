"""The two sides of a reconciliation, on one shared base: MongoDB and the Iceberg table.

Strategies (``strategies``) only talk to this interface, so each diff strategy works the
same whichever side is remote, and a new kind of source needs one adapter, not new logic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog import Namespace
from .canonical import NoCanonicalForm, document_hash
from .keys import key_json
from .progress import Progress
from .segments import Checksum, DigestIndex, Segment
from .sources import DocumentSource, SourceDocument


def source_document_hash(collection: str, document: dict[str, Any]) -> bytes:
    """The digest of a source document; one with no canonical form is refused naming its
    collection, key and field."""
    try:
        return document_hash(document)
    except NoCanonicalForm as error:
        key = key_json(document.get("_id"))
        raise NoCanonicalForm(error.path, f"{error.reason} (collection {collection}, key {key})") from error


class Side(ABC):
    """What a strategy may ask of either side."""

    @abstractmethod
    def count(self, collection: str) -> int: ...

    @abstractmethod
    def checksums(self, segments: Sequence[Segment]) -> list[Checksum]:
        """One checksum per segment (all of one collection), in the same order."""

    @abstractmethod
    def digests(self, segment: Segment) -> dict[str, bytes]:
        """Key text → document digest, for every document in the segment."""

    @abstractmethod
    def split_points(self, segment: Segment, parts: int) -> list[str]: ...

    @abstractmethod
    def documents(self, collection: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The documents with these keys (absent keys are simply not in the result)."""

    @abstractmethod
    def keys(self, collection: str) -> list[str]: ...

    def duplicate_keys(self, collection: str) -> list[str]:
        """Keys held more than once (none where the store enforces unique keys)."""
        return []


@dataclass
class ReadStats:
    """What a side read from its store: the cost a reconciliation puts on MongoDB."""

    documents: int = 0
    bytes: int = 0


class SourceSide(Side):
    """MongoDB (a secondary, or a mongodump snapshot). The collection is read once, in
    any order; its digests are kept (about 100 bytes per document) so that checksums of
    any segment, at any depth of bisection, never read the source again."""

    def __init__(
        self, source: DocumentSource, namespaces: Mapping[str, Namespace], progress: Progress | None = None
    ) -> None:
        self.source = source
        self.namespaces = namespaces  # each collection's database (Catalog.namespaces)
        self.progress = progress or Progress.silent()
        self.stats = ReadStats()
        self._indexes: dict[str, DigestIndex] = {}

    def _counted(self, documents: Iterable[SourceDocument]) -> Iterator[dict[str, Any]]:
        for document, size in documents:
            self.stats.documents += 1
            self.stats.bytes += size
            yield document

    def _namespace(self, collection: str) -> Namespace:
        return self.namespaces[collection]

    def index(self, collection: str) -> DigestIndex:
        if collection not in self._indexes:
            documents = self.progress.iterate(
                self._counted(self.source.documents(self._namespace(collection))), f"hashing source {collection}"
            )
            self._indexes[collection] = DigestIndex(
                (key_json(doc["_id"]), source_document_hash(collection, doc)) for doc in documents
            )
        return self._indexes[collection]

    def count(self, collection: str) -> int:
        if collection in self._indexes:
            return len(self._indexes[collection])
        return self.source.count(self._namespace(collection))

    def checksums(self, segments: Sequence[Segment]) -> list[Checksum]:
        return [self.index(segment.collection).checksum(segment) for segment in segments]

    def digests(self, segment: Segment) -> dict[str, bytes]:
        return self.index(segment.collection).digests(segment)

    def split_points(self, segment: Segment, parts: int) -> list[str]:
        return self.index(segment.collection).split_points(segment, parts)

    def documents(self, collection: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        if not keys:
            return {}
        found = self._counted(self.source.documents_by_key(self._namespace(collection), keys))
        return {key_json(doc["_id"]): doc for doc in found}

    def keys(self, collection: str) -> list[str]:
        return list(self.source.keys(self._namespace(collection)))
