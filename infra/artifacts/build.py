"""Build what infra/README.md deploys: the checks job's archive and the Airflow bundle.

    python infra/artifacts/build.py checks   # build/cdclake-venv.tar.gz (make checks-archive)
    python infra/artifacts/build.py airflow  # build/cdclake-airflow.zip (make airflow-bundle)

Both carry the dbt manifest of the ``glue`` target (the catalog of collections, and the
models cosmos runs), parsed here with the deployment's settings from the environment.
Build tooling, not product code: it runs from the checkout, with the project's venv.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from inventory import normal_name, requirement_name  # beside this script

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHECKS_REQUIREMENTS = HERE / "checks-requirements.in"
AIRFLOW_REQUIREMENTS = HERE / "airflow-requirements.in"
LOCK = REPO / "requirements.lock"
# The settings the glue target's profile reads (profiles/profiles.yml) to parse.
GLUE_SETTINGS = ("CDCLAKE_GLUE_ROLE_ARN", "AWS_REGION", "CDCLAKE_WAREHOUSE_URI")
# The DAGs that run on AWS: cdclake_maintenance is the local stack's; there Glue's table
# optimizers do the upkeep (infra/glue/table-optimizers.json).
AWS_DAGS = ("cdclake_pipeline.py",)
# The dbt project cosmos runs, and the checks job's spec the DAG fills from beside it
# (cdclake.orchestration.emr.job_spec_path).
DBT_PROJECT_FILES = ("dbt_project.yml", "models", "macros", "tests", "profiles", "infra/emr/checks-job.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", choices=("checks", "airflow"))
    parser.add_argument("--out", type=Path, default=REPO / "build", help="where to write it (default: build/)")
    args = parser.parse_args(argv)
    missing = [name for name in GLUE_SETTINGS if not os.environ.get(name)]
    if missing:
        print(f"set {', '.join(missing)}: the glue target's manifest is parsed with the deployment's settings")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cdclake-build-") as scratch:
        manifest = glue_manifest(Path(scratch))
        if args.artifact == "checks":
            built = build_checks_archive(args.out, Path(scratch), manifest)
        else:
            built = build_airflow_bundle(args.out, Path(scratch), manifest)
    print(f"built {built}: {_mb(built)}")
    return 0


def glue_manifest(scratch: Path) -> Path:
    """``dbt parse --target glue`` on this checkout; the manifest it writes."""
    data = scratch / "data"  # cdclake puts dbt's target folder under its data directory
    env = {**os.environ, "CDCLAKE_DATA_DIR": str(data)}
    _run([str(REPO / ".venv" / "bin" / "cdclake"), "dbt", "parse", "--target", "glue", "--quiet"], env=env)
    (REPO / "profiles" / ".user.yml").unlink(missing_ok=True)  # dbt's anonymous id, not ours to ship
    (manifest,) = data.glob("dbt/target/manifest.json")
    return manifest


def build_checks_archive(out: Path, scratch: Path, manifest: Path) -> Path:
    """A venv with cdclake and what the checks need (venv-pack), plus the suites and the
    manifest at its root, where infra/emr/checks-job.json points CDCLAKE_EXPECTATIONS_DIR
    and CDCLAKE_DBT_MANIFEST (``./environment/...`` once Spark unpacks it)."""
    venv = scratch / "checks-venv"
    print("installing the checks' packages into a fresh venv (a minute or two)")
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-r", str(CHECKS_REQUIREMENTS), "-c", str(LOCK)])
    _run([*pip, "--no-deps", str(REPO)])  # not editable: venv-pack packs installed files only
    inventory = _inventory(venv)
    packed = scratch / "cdclake-venv.tar"
    _run([str(REPO / ".venv" / "bin" / "venv-pack"), "-p", str(venv), "-o", str(packed), "--format", "tar", "-q"])
    with tarfile.open(packed, "a") as archive:
        archive.add(REPO / "expectations", arcname="expectations")
        archive.add(manifest, arcname="manifest.json")
    built = out / "cdclake-venv.tar.gz"
    _gzip(packed, built)
    _say_inventory(inventory, _reasons(CHECKS_REQUIREMENTS))
    return built


def build_airflow_bundle(out: Path, scratch: Path, manifest: Path) -> Path:
    """What MWAA takes: ``dags/`` (the pipeline's DAG and the dbt project cosmos runs, with its
    manifest), ``plugins.zip`` (the cdclake wheel the DAGs import) and ``requirements.txt``
    (the providers, cosmos and dbt-glue at the lock's versions, then cdclake from the
    plugins folder). Airflow itself is MWAA's."""
    wheels = scratch / "wheels"
    _run([str(REPO / ".venv" / "bin" / "pip"), "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)])
    (wheel,) = wheels.glob("cdclake-*.whl")
    plugins = io.BytesIO()
    with zipfile.ZipFile(plugins, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(wheel, wheel.name)
    built = out / "cdclake-airflow.zip"
    with zipfile.ZipFile(built, "w", zipfile.ZIP_DEFLATED) as bundle:
        for dag in AWS_DAGS:
            bundle.write(REPO / "orchestration" / "dags" / dag, f"dags/{dag}")
        for name in DBT_PROJECT_FILES:
            for path in _files(REPO / name):
                bundle.write(path, f"dags/dbt/{path.relative_to(REPO)}")
        bundle.write(manifest, "dags/dbt/target/manifest.json")
        bundle.writestr("plugins.zip", plugins.getvalue())
        bundle.writestr("requirements.txt", airflow_requirements())
    reasons = _reasons(AIRFLOW_REQUIREMENTS)
    print("requirements.txt (MWAA installs these beside its own Airflow):")
    for name, why in reasons.items():
        print(f"  {name:<40} {why}")
    return built


def airflow_requirements() -> str:
    """The bundle's requirements.txt: each line of airflow-requirements.in pinned to the lock."""
    pins = _pins(LOCK)
    lines = ["# Generated by infra/artifacts/build.py from airflow-requirements.in and requirements.lock"]
    lines.append("--find-links /usr/local/airflow/plugins")
    for name in _reasons(AIRFLOW_REQUIREMENTS):
        lines.append(f"{name}=={pins[normal_name(name)]}" if normal_name(name) in pins else name)
    return "\n".join(lines) + "\n"


def _inventory(venv: Path) -> list[dict]:
    """Every distribution in ``venv``: name, size on disk, and which others require it."""
    script = HERE / "inventory.py"
    return json.loads(_run([str(venv / "bin" / "python"), str(script)]))


def _say_inventory(inventory: list[dict], reasons: dict[str, str]) -> None:
    """Each package of the archive, largest first, with why it is there: its own line in
    checks-requirements.in, or the packages that pull it in."""
    print(f"{'package':<32}{'MB':>8}  why")
    for entry in sorted(inventory, key=lambda e: -e["bytes"]):
        name = normal_name(entry["name"])
        why = reasons.get(name) or (
            "needed by " + ", ".join(sorted(set(entry["required_by"]))) if entry["required_by"] else "the venv's own"
        )
        if name == "cdclake":
            why = "the checks themselves"
        print(f"{entry['name']:<32}{entry['bytes'] / 1e6:>8.1f}  {why}")
    print(f"{'total installed':<32}{sum(e['bytes'] for e in inventory) / 1e6:>8.1f}")


def _reasons(requirements: Path) -> dict[str, str]:
    """Requirement name -> the comment on its line."""
    reasons = {}
    for line in requirements.read_text().splitlines():
        spec, _, why = line.partition("#")
        spec = spec.strip()
        if spec:
            reasons[normal_name(requirement_name(spec))] = why.strip()
    return reasons


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[normal_name(name)] = version.strip()
    return pins


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.name != ".user.yml")


def _gzip(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 1 << 20)


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a step quietly; on failure, stop with its command and output."""
    done = subprocess.run(command, env=env, cwd=REPO, text=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
