"""Result commands of the `alfred` command line (summarize, plot arrays, benchmarks)."""


def register(commands) -> None:
    """Add the result commands to the `alfred` parser."""
