"""Result commands of the `alfred` command line (summarize, plot arrays, benchmarks)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from alfred_core.errors import AlfredError
from alfred_core.results import AGGREGATES, ERROR_BARS


def _root(args):
    from alfred_core.tree import Root

    return Root(args.root or os.environ.get("ALFRED_ROOT", "storage"))


def _searches(args, root):
    from alfred_core.launch import resolve_searches

    if not args.storage and not getattr(args, "from_file", None):
        raise AlfredError("name at least one storage dir (or --from-file LIST)")
    return resolve_searches(root, args.storage, getattr(args, "from_file", None))


def _options(args):
    from alfred_core.results.summarize import SummaryOptions

    return SummaryOptions(
        x=args.x,
        y=args.y,
        score=args.score,
        aggregate=args.aggregate,
        error_bars=args.error_bars,
        maximize=args.maximize,
    )


def cmd_summarize(args) -> int:
    from alfred_core.results.summarize import summarize

    root = _root(args)
    for search in _searches(args, root):
        print(summarize(search, _options(args)).describe())
    return 0


def cmd_retrain_best(args) -> int:
    from alfred_core.results.retrain import (
        create_retrain_best,
        describe_retrain,
        existing_retrain,
        read_mapping,
    )

    root = _root(args)
    searches = _searches(args, root)
    mapping = read_mapping(args.mapping) if args.mapping else None
    for search in searches:
        previous = existing_retrain(root, search)
        if previous is not None:
            raise AlfredError(f"{search.name} already has a retrain: {previous.name}")
        if mapping is not None and search.name not in mapping:
            raise AlfredError(f"{args.mapping}: names no entry for {search.name}")
    for search in searches:
        retrain = create_retrain_best(
            root,
            search,
            seeds=args.seeds,
            time_factor=args.time_factor,
            budget_keys=args.budget_key,
            mapping=mapping,
        )
        print(describe_retrain(retrain))
    return 0


def cmd_plot_arrays(args) -> int:
    from alfred_core.results.plot_arrays import make_plot_arrays, parse_plot_spec

    specs = [parse_plot_spec(text) for text in args.plot or []]
    root = _root(args)
    for search in _searches(args, root):
        for path in make_plot_arrays(search, specs or None):
            print(f"wrote {path}")
    return 0


def cmd_benchmark(args) -> int:
    from alfred_core.results.benchmark import (
        compare_models,
        compare_searches,
        read_hlines,
        read_visuals,
    )

    visuals = read_visuals(args.visuals)
    hlines = read_hlines(args.hlines)
    root = _root(args)
    searches = _searches(args, root)
    out_dir = Path(args.out).expanduser() if args.out else searches[0].benchmark_dir
    if args.kind == "compare-models":
        written = compare_models(searches, out_dir, _options(args), visuals, hlines)
    else:
        written = compare_searches(searches, out_dir, _options(args), visuals)
    for path in written:
        print(f"wrote {path}")
    return 0


def add_common(parser: argparse.ArgumentParser, metrics: bool = True) -> None:
    parser.add_argument("storage", nargs="*", help="storage names")
    parser.add_argument(
        "--from-file", metavar="LIST", help="a list_searches_*.txt file"
    )
    parser.add_argument(
        "--root",
        default=None,
        help="the folder of the searches (default: $ALFRED_ROOT or ./storage)",
    )
    if not metrics:
        return
    parser.add_argument("--x", metavar="METRIC", help="x axis of the curves")
    parser.add_argument("--y", metavar="METRIC", help="y axis of the curves")
    parser.add_argument(
        "--score",
        metavar="METRIC",
        help="the metric that ranks (default: the project's, else y)",
    )
    parser.add_argument(
        "--aggregate", choices=AGGREGATES, help="how a run's values become its score"
    )
    parser.add_argument(
        "--error-bars",
        choices=ERROR_BARS,
        help="the band around mean curves (default ci95)",
    )
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument(
        "--maximize",
        dest="maximize",
        action="store_true",
        default=None,
        help="higher scores are better",
    )
    direction.add_argument(
        "--minimize",
        dest="maximize",
        action="store_false",
        help="lower scores are better",
    )


def register(commands) -> None:
    """Add the result commands to the `alfred` parser."""
    p = commands.add_parser(
        "summarize", help="learning curves, sorted scores and best config of searches"
    )
    add_common(p)
    p.set_defaults(handler=cmd_summarize)

    p = commands.add_parser(
        "retrain-best",
        help="a new search with the best config, more seeds, more budget",
    )
    add_common(p, metrics=False)
    p.add_argument("--seeds", type=int, default=10, help="number of new seeds (10)")
    p.add_argument(
        "--time-factor",
        type=float,
        default=2.0,
        help="factor on the budget hyperparameters (2)",
    )
    p.add_argument(
        "--budget-key",
        action="append",
        metavar="KEY",
        help="a budget hyperparameter, e.g. max_epochs (repeatable)",
    )
    p.add_argument(
        "--mapping",
        metavar="FILE",
        help="JSON: storage name -> experiment number or {hyperparameter: value}",
    )
    p.set_defaults(handler=cmd_retrain_best)

    p = commands.add_parser(
        "plot-arrays", help="one subplot per run, one PNG per metric pair"
    )
    add_common(p, metrics=False)
    p.add_argument(
        "--plot",
        action="append",
        metavar="X,Y[,XMIN,XMAX,YMIN,YMAX]",
        help="a metric pair to draw (repeatable; default from the project)",
    )
    p.set_defaults(handler=cmd_plot_arrays)

    p = commands.add_parser("benchmark", help="compare models or searches")
    p.add_argument("kind", choices=("compare-models", "compare-searches"))
    add_common(p)
    p.add_argument(
        "--visuals",
        metavar="FILE",
        help="JSON: storage or alg name -> {label, color, marker}",
    )
    p.add_argument("--hlines", metavar="FILE", help="JSON: task -> {label: y value}")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="where figures go (default: the first search's benchmark/)",
    )
    p.set_defaults(handler=cmd_benchmark)
