"""The DAG's sensors watch one prefix per collection: a pattern that matches that
collection's files, at its folder's root or in dated folders, and nothing of another
collection, whatever characters the names hold (they are data, never pattern syntax)."""

from __future__ import annotations

import fnmatch
import glob
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cdclake.catalog import Collection
from cdclake.orchestration import landing_watch

# Folder names DMS could write for a database or collection: no '/', not '.' or '..'.
NAMES = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda name: name not in {".", ".."})


def collection(database: str, name: str) -> Collection:
    return Collection(name, database, f"source.p.{database}.{name}", f"current_{name}", "_id", "ts", "*")


@settings(max_examples=60, deadline=None)
@given(database=NAMES, name=NAMES, other=NAMES)
def test_the_s3_pattern_matches_the_collections_keys_only(database: str, name: str, other: str) -> None:
    watched = collection(database, name)
    pattern = landing_watch.s3_key_pattern("dms/", watched)
    assert fnmatch.fnmatchcase(f"dms/{database}/{name}/LOAD00000001.parquet", pattern)
    assert fnmatch.fnmatchcase(f"dms/{database}/{name}/2026/12/01/20261201-1.parquet", pattern)
    if other != name:
        assert not fnmatch.fnmatchcase(f"dms/{database}/{other}/LOAD00000001.parquet", pattern)
    assert not fnmatch.fnmatchcase(f"dms/{database}/{name}/notes.txt", pattern)


@settings(max_examples=40, deadline=None)
@given(database=NAMES, name=NAMES, other=NAMES)
def test_the_local_pattern_matches_the_collections_files_only(tmp_path_factory, database, name, other) -> None:
    landing = tmp_path_factory.mktemp("landing")
    mine = [landing / database / name / "LOAD00000001.parquet", landing / database / name / "2026/12/01/a.parquet"]
    theirs = [landing / database / other / "LOAD00000001.parquet"] if other != name else []
    for path in mine + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1")
    pattern = landing_watch.local_file_pattern(landing, collection(database, name))
    assert sorted(glob.glob(pattern, recursive=True)) == sorted(map(str, mine))


def test_local_modified_times_cover_every_collection_and_only_theirs(tmp_path: Path) -> None:
    for folder in ("ledger/clients", "hr/timesheets/2026/12/01", "hr/unlisted"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "f.parquet").write_bytes(b"PAR1")
    watched = [collection("ledger", "clients"), collection("hr", "timesheets")]
    assert len(landing_watch.local_modified_times(tmp_path, watched)) == 2


def test_sensor_task_ids_are_valid_airflow_ids() -> None:
    assert landing_watch.sensor_task_id(collection("hr", "time sheets/ü")) == "wait_for_hr__time_sheets__"
