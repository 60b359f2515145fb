"""One module per contender; each serves `benchmarks.dash_app` and `benchmarks.tokens` the same way."""
