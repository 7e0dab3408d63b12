"""(c) Peak memory of `make demo`: the summed RSS of the demo process and its children
(the Spark JVM), sampled every 100 ms, for a first run on an empty data directory.

    .venv/bin/python -m bench.demo_memory

Results go to bench/results/demo_memory.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the checkout: benchmarks read and write beside it


RESULTS = REPO / "bench" / "results"


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) * 1024
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def main() -> None:
    data_dir = REPO / "data" / "bench-demo"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = dict(os.environ, CDCLAKE_DATA_DIR=str(data_dir))
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cdclake", "demo"], env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(0.1)
    result = {
        "exit_code": process.returncode,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "demo_memory.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
