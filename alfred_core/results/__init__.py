"""Results: the data behind figures, summaries, plot arrays, retrains and benchmarks."""
