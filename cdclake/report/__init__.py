"""The data-quality report: one self-contained HTML page per run, JSON and JUnit beside it."""
