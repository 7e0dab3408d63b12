"""Great Expectations checks of the current-state tables (suites in ``expectations/``)."""
