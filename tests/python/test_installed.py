"""cdclake works installed, outside a checkout: the wheel, installed into a fresh virtual
environment, runs `cdclake reconcile` and `cdclake checks` from another working
directory against a built lake, with the dbt project and its suites given as settings.

The fresh environment borrows the project's third-party packages (a path entry to the
project venv's site-packages: PySpark and the Iceberg jars are large) but not cdclake,
whose editable install that path entry does not bring: cdclake comes from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import Dataset
from repo import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the cdclake wheel installed; returns its bin folder."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # built from a copy: setuptools writes build/ into the tree it builds
    shutil.copytree(REPO / "cdclake", source / "cdclake", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", source / "pyproject.toml")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("cdclake-*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    site = Path(
        subprocess.check_output(
            [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    found = subprocess.check_output(
        [bin_dir / "python", "-c", "import cdclake; print(cdclake.__file__)"], text=True, cwd=root
    )
    assert found.startswith(str(root / "venv")), found  # the wheel's copy, not the checkout's
    return bin_dir


def lake_of(dataset: Dataset, workspace: Path) -> dict[str, str]:
    """Settings that point at a fixture's lake: the test session keeps every dataset's
    tables in one warehouse (conftest's shared Spark session), its files apart."""
    return {
        "CDCLAKE_DATA_DIR": str(workspace / "shared"),
        "CDCLAKE_SCHEMA": dataset.schema,
        "CDCLAKE_LANDING_ROOT": str(dataset.paths.landing),
        "CDCLAKE_DBT_MANIFEST": str(dataset.paths.dbt_dir / "target" / "manifest.json"),
    }


def run(bin_dir: Path, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([bin_dir / "cdclake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_reconcile_and_checks_run_from_another_folder(installed: Path, in_order: Dataset, workspace, tmp_path) -> None:
    in_order.simulator.write_snapshot(tmp_path / "snapshot")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = (
        {key: value for key, value in os.environ.items() if not key.startswith(("CDCLAKE_", "PYTHON", "VIRTUAL_ENV"))}
        | lake_of(in_order, workspace)
        | {"CDCLAKE_DBT_PROJECT_DIR": str(REPO)}
    )  # the suites: a setting
    reconciled = run(installed, elsewhere, env, "reconcile", "--quiet", "--mode", "counts", "--mode", "full",
                     "--snapshot", str(tmp_path / "snapshot"), "--state-uri", str(tmp_path / "state"))  # fmt: skip
    assert reconciled.returncode == 0, (reconciled.stdout + reconciled.stderr)[-3000:]
    checked = run(installed, elsewhere, env, "checks", "--quiet", "--mode", "counts",
                  "--snapshot", str(tmp_path / "snapshot"), "--results-uri", str(tmp_path / "results"))  # fmt: skip
    assert checked.returncode == 0, (checked.stdout + checked.stderr)[-3000:]
    report = json.loads((tmp_path / "results" / "reports" / "latest" / "report.json").read_text())
    assert report["status"] in ("green", "amber"), report["reason"]
    assert not list(elsewhere.iterdir())  # nothing written to the working directory


def test_without_the_project_setting_the_checks_say_what_to_set(
    installed: Path, in_order: Dataset, workspace: Path, tmp_path: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDCLAKE_", "PYTHON"))}
    env |= lake_of(in_order, workspace)
    checked = run(installed, tmp_path, env, "checks", "--quiet", "--mode", "counts", "--snapshot", str(tmp_path))
    assert checked.returncode == 2, (checked.stdout + checked.stderr)[-3000:]
    assert "CDCLAKE_DBT_PROJECT_DIR" in checked.stderr
