"""Draw the scale curve from bench/results/scale.json (points added by
``bench.reconcile_benchmark --scale --documents N``): seconds and memory against size,
as SVG beside the data, with the report's own chart code (no plotting library).

    .venv/bin/python -m bench.scale_chart
"""

from __future__ import annotations

import json
from pathlib import Path

from cdclake.report.charts import line_chart

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    points = list(json.loads((RESULTS / "scale.json").read_text()).values())
    labels = [f"{point['documents'] / 1e6:g}M" for point in points]

    def series(name: str) -> list[float | None]:
        return [point.get(name) for point in points]

    seconds = line_chart(
        "scale-seconds",
        "Seconds against documents (2 cores)",
        labels,
        {
            "full load applied by dbt": series("full_load_apply_seconds"),
            "full reconciliation": series("seconds"),
        },
        "s",
    )
    memory = line_chart(
        "scale-memory",
        "Peak memory against documents",
        labels,
        {
            "apply, Python and JVM (GiB)": series("full_load_apply_peak_rss_gib"),
            "full reconciliation, Python and JVM (GiB)": series("peak_rss_gib_python_and_jvm"),
            "full reconciliation, Python driver's growth (GiB)": [
                None if value is None else round(value / 1024, 3) for value in series("driver_python_memory_growth_mb")
            ],
        },
        "GiB",
    )
    (RESULTS / "scale-seconds.svg").write_text(seconds + "\n")
    (RESULTS / "scale-memory.svg").write_text(memory + "\n")
    print(f"written {RESULTS / 'scale-seconds.svg'} and {RESULTS / 'scale-memory.svg'}")


if __name__ == "__main__":
    main()
