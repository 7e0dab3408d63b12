"""Where the Spark JVM spends its CPU during a benchmark run.

Two measures, both of the local session's JVM (this process's Spark):

- ``JvmCpu``: the JVM's CPU seconds (user + system, from psutil) over a run. On a shared
  2-core machine whose speed moves within minutes, a run's CPU varies less than its wall
  time, and it says whether a change removed work or only moved it.
- ``Recording``: a Java Flight Recorder recording of a run, summarised as the share of
  execution samples per kind of work (driver-side planning, the tasks' shuffles, sorts,
  Parquet and JSON work). Uses the JDK's own ``jcmd`` and ``jfr`` tools.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

# (kind of work, a frame that marks it): a sample counts for the mark nearest its leaf.
DRIVER_WORK = [
    ("closure cleaning (Spark reads bytecode per job)", "ClosureCleaner"),
    ("code generation and compilation", "sql.catalyst.expressions.codegen"),
    ("SQL parsing", "AbstractSqlParser"),
    ("analysis", "catalyst.analysis"),
    ("optimisation", "catalyst.optimizer"),
    ("adaptive execution (re-planning stages)", "execution.adaptive"),
    ("physical planning", "QueryPlanner"),
    ("Iceberg commits and metadata", "org.apache.iceberg"),
    ("Hadoop file system", "org.apache.hadoop.fs"),
    ("job scheduling", "org.apache.spark.scheduler"),
    ("calls from Python (dbt's statements)", "py4j"),
]
TASK_WORK = [
    ("Iceberg scan (reading the current state)", "org.apache.iceberg.spark.source.BaseReader"),
    ("Iceberg writing (the merge's new files)", "org.apache.iceberg.spark.source.SparkPositionDeltaWrite"),
    ("JSON parsing (the row checks)", "JsonObjectKeys"),
    ("Parquet writing (the scratch folder)", "ParquetOutputWriter"),
    ("sorting (windows, sort-merge joins, sort aggregates)", "UnsafeExternalSorter"),
    ("shuffle writing", "ShuffleWriter"),
    ("shuffle reading", "ShuffleBlockFetcherIterator"),
    ("Parquet reading (landing files, scratch folder)", "VectorizedParquetRecordReader"),
    ("timestamp parsing", "TimestampFormatter"),
    ("regular expressions", "java.util.regex"),
]
# Generated code runs inside the operators above (sort comparators, the rows a shuffle
# writes): it counts as its own kind only where none of them is on the stack.
TASK_FALLBACK = [("other generated code (the SQL's expressions and projections)", "GeneratedClass")]


def _kind_of_work(frames: list[str], *marks_in_order: list[tuple[str, str]]) -> str:
    """The kind of work whose mark is nearest the leaf, trying each list of marks in turn."""
    for marks in marks_in_order:
        for frame in frames:  # the leaf first
            for name, mark in marks:
                if mark in frame:
                    return name
    return "other"


# (kind of thread, a pattern of its name): the JVM names its threads, and Linux keeps the
# first 15 characters in /proc/<pid>/task/<tid>/comm.
THREAD_KINDS = [
    ("JIT compilers", r"C1 Compi|C2 Compi|CompilerThre|Sweeper"),
    ("garbage collection and VM", r"^GC |^G1 |VM Thread|VM Periodic"),
    ("tasks", r"Executor task"),
    ("scheduler", r"dag-scheduler|spark-listener|event-loop|dispatcher"),
]


def _thread_kind(name: str) -> str:
    for kind, pattern in THREAD_KINDS:
        if re.search(pattern, name):
            return kind
    return "other live threads"


class JvmCpu:
    """CPU seconds the session's JVM used between ``start()`` and ``seconds()``, and how
    they split by kind of thread (``by_kind()``).

    The driver's work for dbt's statements (analysis, planning, code generation, Iceberg
    commits) runs in the JVM threads py4j makes for dbt's Python threads, which end with
    each dbt run: their CPU is what the JVM used beyond the threads still alive at the
    end (``driver threads of the run``)."""

    def __init__(self, pid: int) -> None:
        self.pid, self._process = pid, psutil.Process(pid)
        self._start, self._start_threads = 0.0, {}

    @classmethod
    def of_session(cls, spark) -> JvmCpu:
        return cls(int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()))

    def _now(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def _live_threads(self) -> dict[str, tuple[str, float]]:
        """Each live thread's (kind, CPU seconds so far), by thread id (Linux only: empty
        elsewhere)."""
        threads: dict[str, tuple[str, float]] = {}
        tasks = Path(f"/proc/{self.pid}/task")
        if not tasks.is_dir():
            return threads
        tick = os.sysconf("SC_CLK_TCK")
        for thread in tasks.iterdir():
            try:
                name = (thread / "comm").read_text().strip()
                fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended while being read
            threads[thread.name] = (_thread_kind(name), (int(fields[11]) + int(fields[12])) / tick)  # utime + stime
        return threads

    def start(self) -> None:
        self._start, self._start_threads = self._now(), self._live_threads()

    def seconds(self) -> float:
        return self._now() - self._start

    def by_kind(self) -> dict[str, float]:
        """CPU seconds since ``start()`` per kind of thread (THREAD_KINDS). Counted thread
        by thread: a thread that ended during the run is in the rest, with only what it
        spent since ``start()`` (the process's total counts it), never what it spent before."""
        now = self._live_threads()
        if not now:
            return {}
        kinds: collections.Counter = collections.Counter()
        for tid, (kind, cpu) in now.items():
            kinds[kind] += cpu - self._start_threads.get(tid, (kind, 0.0))[1]
        kinds["driver threads of the run"] = self.seconds() - sum(kinds.values())
        return {kind: round(seconds, 2) for kind, seconds in sorted(kinds.items())}


@dataclass
class Recording:
    """A JFR recording of the JVM ``pid`` into ``path``, started and stopped around a run."""

    pid: int
    path: Path

    def __enter__(self) -> Recording:
        self._jcmd("JFR.start", "name=cdclake-bench", "settings=profile", f"filename={self.path}")
        return self

    def __exit__(self, *exc) -> None:
        self._jcmd("JFR.stop", "name=cdclake-bench")

    def _jcmd(self, *args: str) -> None:
        subprocess.run([_jdk_tool("jcmd"), str(self.pid), *args], check=True, capture_output=True)

    def summary(self) -> dict:
        """Shares of the execution samples: driver threads against task threads, and
        within each the kinds of work above."""
        printed = subprocess.run(
            [_jdk_tool("jfr"), "print", "--json", "--stack-depth", "400", "--events", "jdk.ExecutionSample", self.path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        samples = json.loads(printed)["recording"]["events"]
        counts: dict[str, collections.Counter] = {"driver": collections.Counter(), "tasks": collections.Counter()}
        for sample in samples:
            thread = sample["values"]["sampledThread"]["javaName"] or ""
            side = "tasks" if thread.startswith("Executor task") else "driver"
            frames = [
                f"{frame['method']['type']['name']}.{frame['method']['name']}".replace("/", ".")
                for frame in sample["values"]["stackTrace"]["frames"]
            ]
            work = (DRIVER_WORK,) if side == "driver" else (TASK_WORK, TASK_FALLBACK)
            counts[side][_kind_of_work(frames, *work)] += 1
        total = sum(sum(counter.values()) for counter in counts.values()) or 1
        return {
            "samples": total,
            **{
                side: {
                    "share": round(sum(counter.values()) / total, 3),
                    "work": {name: round(n / total, 3) for name, n in counter.most_common()},
                }
                for side, counter in counts.items()
            },
        }


def _jdk_tool(name: str) -> str:
    """A JDK tool of the Java that runs Spark (JAVA_HOME first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", name) if home else None
    found = str(candidate) if candidate and candidate.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"--profile needs the JDK's {name} (install a JDK, or set JAVA_HOME to one)")
    return found
