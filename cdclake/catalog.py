"""The collections the lake holds, read from dbt's manifest: the dbt project is the one
catalog (docs/adr/0007-catalog-from-the-dbt-manifest.md).

A collection is a ``cdc_current_state`` model and the one DMS source table it reads
(``meta.dms_collection``), directly or through ephemeral staging models, as the
materialization finds it (``cdc_upstream_dms_sources``). Its DMS settings are resolved
as ``dms_setting`` resolves them: the table's meta, its source's meta, then the defaults
the current-state models carry (``dms_defaults`` in dbt_project.yml).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .settings import Paths

MATERIALIZATION = "cdc_current_state"


class CatalogError(Exception):
    """No manifest, a project the catalog cannot read, or a collection it does not have."""


@dataclass(frozen=True)
class Namespace:
    """Where a collection lives in MongoDB."""

    database: str
    collection: str

    def __str__(self) -> str:
        return f"{self.database}.{self.collection}"


@dataclass(frozen=True)
class Collection:
    name: str  # the MongoDB collection
    database: str  # the MongoDB database
    source: str  # the dbt source table's unique_id, as the bookkeeping tables record it
    model: str  # the current-state table's name
    key_column: str
    timestamp_column: str
    file_name_glob: str  # its files: under its landing folder, at any depth, names matching this
    marts: tuple[str, ...] = ()  # models built from this collection alone (by name)
    model_ids: tuple[str, ...] = ()  # dbt unique_ids of the current-state model and its marts
    # How long the collection may go without a change: its dbt source's freshness.
    warn_after: dt.timedelta | None = None
    error_after: dt.timedelta | None = None

    def table(self, schema: str) -> str:
        return f"{schema}.{self.model}"

    @property
    def namespace(self) -> Namespace:
        return Namespace(self.database, self.name)


@dataclass(frozen=True)
class Catalog:
    collections: tuple[Collection, ...]
    schema: str | None = None  # the schema the manifest's target builds the tables into

    def __iter__(self) -> Iterator[Collection]:
        return iter(self.collections)

    def names(self) -> tuple[str, ...]:
        return tuple(collection.name for collection in self.collections)

    def get(self, name: str) -> Collection:
        for collection in self.collections:
            if collection.name == name:
                return collection
        raise CatalogError(
            f"no collection {name!r} in the dbt project: it has {', '.join(self.names()) or 'none'} "
            "(a collection is a cdc_current_state model reading a source table with meta.dms_collection)"
        )

    def select(self, names: Iterable[str] | None) -> tuple[str, ...]:
        """``names`` checked against the catalog, in its order; ``None`` is every collection."""
        if names is None:
            return self.names()
        asked = tuple(dict.fromkeys(names))
        for name in asked:
            self.get(name)
        return asked

    def namespaces(self) -> dict[str, Namespace]:
        return {collection.name: collection.namespace for collection in self.collections}

    def by_source(self) -> dict[str, Collection]:
        return {collection.source: collection for collection in self.collections}

    def model_ids(self) -> dict[str, str]:
        """Each model of a collection (current state, marts) and its dbt unique_id: the
        address of its page in the dbt docs site."""
        return {
            name: model_id
            for collection in self.collections
            for name, model_id in zip((collection.model, *collection.marts), collection.model_ids, strict=False)
        }

    def table_collections(self) -> dict[str, str]:
        """Each model that belongs to one collection (its current-state table, its marts)
        and that collection's name; a model of several collections belongs to none."""
        return {
            model: collection.name for collection in self.collections for model in (collection.model, *collection.marts)
        }

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Catalog:
        nodes, sources = manifest["nodes"], manifest["sources"]
        found, schemas = [], set()
        for node in sorted(nodes.values(), key=lambda n: n["unique_id"]):
            config = node.get("config", {})
            if node["resource_type"] != "model" or config.get("materialized") != MATERIALIZATION:
                continue
            if not config.get("enabled", True):
                continue
            read = _upstream_dms_sources(node, nodes, sources)
            if len(read) != 1:
                raise CatalogError(
                    f"{node['unique_id']} must read exactly one DMS source table (meta.dms_collection); "
                    f"it reads {[source['unique_id'] for source in read]}"
                )
            found.append(_collection(node, read[0]))
            schemas.add(node["schema"])
        found = _with_marts(found, nodes)
        names = [collection.name for collection in found]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise CatalogError(f"collection name(s) {', '.join(repeated)} used by more than one current-state model")
        if len(schemas) > 1:
            raise CatalogError(f"the current-state models build into several schemas ({', '.join(sorted(schemas))})")
        return cls(tuple(found), next(iter(schemas), None))


def _upstream_dms_sources(node: Mapping[str, Any], nodes: Mapping, sources: Mapping) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for upstream in node["depends_on"]["nodes"]:
        if upstream in sources and sources[upstream].get("meta", {}).get("dms_collection"):
            found.append(sources[upstream])
        elif upstream in nodes and nodes[upstream].get("config", {}).get("materialized") == "ephemeral":
            found.extend(_upstream_dms_sources(nodes[upstream], nodes, sources))
    return found


def _with_marts(found: list[Collection], nodes: Mapping[str, Any]) -> list[Collection]:
    """``found`` with the models downstream of exactly one of them as its marts."""
    by_model_id = {
        node_id: collection
        for collection in found
        for node_id, node in nodes.items()
        if node["resource_type"] == "model" and (node.get("alias") or node["name"]) == collection.model
    }
    ancestors: dict[str, frozenset[str]] = {}

    def collections_of(node_id: str) -> frozenset[str]:
        if node_id in by_model_id:
            return frozenset({by_model_id[node_id].name})
        if node_id not in ancestors:
            upstream = nodes[node_id]["depends_on"]["nodes"] if node_id in nodes else []
            ancestors[node_id] = frozenset().union(*(collections_of(up) for up in upstream if up in nodes))
        return ancestors[node_id]

    marts: dict[str, list[str]] = {collection.name: [] for collection in found}
    ids: dict[str, list[str]] = {collection.name: [model_id] for model_id, collection in by_model_id.items()}
    for node_id in sorted(nodes):
        node = nodes[node_id]
        if node["resource_type"] != "model" or node_id in by_model_id:
            continue
        owners = collections_of(node_id)
        if len(owners) == 1:
            marts[next(iter(owners))].append(node.get("alias") or node["name"])
            ids[next(iter(owners))].append(node_id)
    return [
        replace(collection, marts=tuple(marts[collection.name]), model_ids=tuple(ids[collection.name]))
        for collection in found
    ]


def _collection(model: Mapping[str, Any], source: Mapping[str, Any]) -> Collection:
    defaults = model.get("config", {}).get("meta", {}).get("dms_defaults", {})

    def setting(key: str) -> str:
        value = source.get("meta", {}).get(key) or source.get("source_meta", {}).get(key) or defaults.get(key)
        if not value:
            raise CatalogError(f"no {key} for {source['unique_id']}: set meta.{key} on the source or its table")
        return str(value)

    return Collection(
        name=str(source["meta"]["dms_collection"]),
        database=setting("dms_database"),
        source=source["unique_id"],
        model=model.get("alias") or model["name"],
        key_column=setting("dms_key_column"),
        timestamp_column=setting("dms_timestamp_column"),
        file_name_glob=setting("dms_file_name_glob"),
        warn_after=_freshness(source, "warn_after"),
        error_after=_freshness(source, "error_after"),
    )


_PERIODS = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def _freshness(source: Mapping[str, Any], limit: str) -> dt.timedelta | None:
    """A dbt source's freshness limit (``{count, period}``), None when it sets none."""
    value = ((source.get("config") or {}).get("freshness") or source.get("freshness") or {}).get(limit) or {}
    if not value.get("count") or not value.get("period"):
        return None
    return value["count"] * _PERIODS[value["period"]]


def manifest_path(paths: Paths) -> Path:
    """``CDCLAKE_DBT_MANIFEST``, or the manifest of the last dbt run on ``paths``."""
    return Path(os.environ.get("CDCLAKE_DBT_MANIFEST") or paths.dbt_dir / "target" / "manifest.json")


def load_catalog(paths: Paths) -> Catalog:
    path = manifest_path(paths)
    if not path.is_file():
        raise CatalogError(
            f"no dbt manifest at {path}: run `cdclake dbt parse` (or `cdclake demo`) first, "
            "or set CDCLAKE_DBT_MANIFEST to the project's target/manifest.json"
        )
    return Catalog.from_manifest(json.loads(path.read_text()))
