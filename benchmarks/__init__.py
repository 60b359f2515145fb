"""The benchmark suite: hybrid against pure Flask and its peers (see `python -m benchmarks.run --help`)."""
