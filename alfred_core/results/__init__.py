"""Results: the data behind figures, summaries, plot arrays, retrains and benchmarks."""

# Kept here, free of heavy imports, so the command line can offer them as choices.
AGGREGATES = ("min", "max", "mean", "last", "mean_last_20pct")
ERROR_BARS = ("ci95", "stderr", "quantile10", "none")
