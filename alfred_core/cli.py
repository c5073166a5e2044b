"""The `alfred` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from alfred_core.errors import AlfredError

logger = logging.getLogger(__name__)


def default_root() -> str:
    return os.environ.get("ALFRED_ROOT", "storage")


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask on a terminal; without one (scripts, CI) the answer is yes."""
    if assume_yes or not sys.stdin.isatty():
        return True
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        default=None,
        help="the folder of the searches (default: $ALFRED_ROOT or ./storage)",
    )


def cmd_prepare(args) -> int:
    from alfred_core.prepare import execute_plan, plan_prepare

    plan = plan_prepare(
        args.schedule,
        args.desc,
        root=args.root,
        project_dir=args.project,
        add_to=args.add_to,
        resample=not args.no_resample,
    )
    print(plan.describe())
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    if not confirm(f"create these {plan.run_count} runs?", args.yes):
        print("nothing written")
        return 1
    searches = execute_plan(plan)
    for search in searches:
        print(f"prepared {search.path}")
    return 0


def cmd_launch(args) -> int:
    from alfred_core.clean import execute_clean, plan_clean
    from alfred_core.launch import (
        Launcher,
        LaunchOptions,
        check_launchable,
        detach,
        resolve_searches,
        summarize_in_background,
    )
    from alfred_core.flags import State
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    searches = resolve_searches(root, args.storage, args.from_file)
    check_launchable(searches, check_hash=not args.no_check_hash)
    if args.workers < 1:
        raise AlfredError("-p must be at least 1")

    if args.clean_interrupted:
        plan = plan_clean(searches)
        plan.resets = [
            s for s in plan.resets if s.state is State.LOST or s.state is State.NOFLAG
        ]
        print(f"clean interrupted: {plan.describe()}")
        execute_clean(plan)

    if args.executor == "slurm":
        return launch_on_slurm(args, root, searches)

    options = LaunchOptions(
        workers=args.workers,
        max_runs=args.max_runs,
        gpus=[g for g in (args.gpus or "").split(",") if g],
        clean_interrupted=False,
        check_hash=not args.no_check_hash,
        grace=args.grace,
    )
    if args.detach:
        argv = [
            "launch",
            *[s.name for s in searches],
            "--root",
            str(root.path),
            "-p",
            str(args.workers),
            "--grace",
            str(args.grace),
        ]
        if args.max_runs is not None:
            argv += ["--max-runs", str(args.max_runs)]
        if args.gpus:
            argv += ["--gpus", args.gpus]
        if args.no_check_hash:
            argv.append("--no-check-hash")
        pid, log_path = detach(argv, root)
        print(f"launcher detached (pid {pid}); log: {log_path}")
        print("it goes on after this terminal closes; `alfred status` shows it")
        return 0

    auto_summary = os.environ.get("ALFRED_AUTO_SUMMARY", "1") != "0"
    launcher = Launcher(
        root,
        searches,
        options,
        after_search_done=summarize_in_background if auto_summary else None,
    )
    code = launcher.run()
    if code >= 128:
        print(
            "launch stopped; unfinished runs were put back to UNHATCHED",
            file=sys.stderr,
        )
    return code


def launch_on_slurm(args, root, searches) -> int:
    from alfred_core.flags import State
    from alfred_core.slurm import SlurmOptions, signal_lead, submit
    from alfred_core.status import search_counts

    if args.gpus or args.detach:
        raise AlfredError(
            "--gpus and --detach are for local launches; on Slurm, "
            "ask for GPUs with --gres gpu:N (a Slurm job never waits here)"
        )
    ready = sum(search_counts(search)[State.UNHATCHED] for search in searches)
    if ready == 0:
        print(
            "nothing to run: no UNHATCHED run in these searches; nothing submitted "
            "(`alfred clean` requeues interrupted runs)"
        )
        return 0
    if ready < args.workers:
        print(
            f"one worker per ready run: submitting {ready} of the {args.workers} "
            "workers asked for"
        )
        args.workers = ready
    options = SlurmOptions(
        workers=args.workers,
        partition=args.partition,
        time=args.time,
        gres=args.gres,
        cpus_per_task=args.cpus_per_task,
        mem=args.mem,
        sbatch_args=args.sbatch_arg or [],
        runs_per_worker=args.max_runs,
        signal_lead=args.signal_lead,
        grace=args.grace,
    )
    if signal_lead(options) != options.signal_lead:
        print(
            f"--time {options.time} is short: workers requeue their runs "
            f"{signal_lead(options)} s before it, not {options.signal_lead} s"
        )
    submission = submit(root, searches, options)
    print(
        f"submitted Slurm job array {submission.job_id} ({args.workers} workers), "
        f"launch {submission.launch_id}"
    )
    print(f"worker logs: {submission.log_pattern}")
    print(f"`alfred status` shows it; `alfred stop {submission.launch_id}` stops it")
    return 0


def cmd_status(args) -> int:
    from alfred_core.status import format_status, status_document
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    document = status_document(root, args.storage or None)
    if args.json:
        json.dump(document, sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_status(document))
    return 0


def cmd_clean(args) -> int:
    from alfred_core.clean import execute_clean, plan_clean
    from alfred_core.launch import resolve_searches
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    searches = resolve_searches(root, args.storage)
    plan = plan_clean(searches, crashes=args.crashes)
    print(plan.describe())
    if args.dry_run or not plan.resets:
        return 0
    if not confirm(f"reset these {len(plan.resets)} runs?", args.yes):
        return 1
    print(f"reset {execute_clean(plan)} runs")
    return 0


def cmd_kill(args) -> int:
    from alfred_core.kill import kill_runs
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    runs = []
    for target in args.targets:
        runs.extend(root.runs_under(root.resolve(target)))
    report = kill_runs(runs, wait=args.wait)
    print(report.describe())
    return 0


def cmd_stop(args) -> int:
    from alfred_core.kill import stop_launch
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    for launch in args.launches:
        print(stop_launch(root, launch))
    return 0


def cmd_copy(args) -> int:
    from alfred_core.copy_search import copy_search, parse_overrides
    from alfred_core.tree import Root

    root = Root(args.root or default_root())
    search = copy_search(root, args.storage, args.desc, parse_overrides(args.set or []))
    print(f"created {search.path} ({len(search.runs())} runs)")
    return 0


def cmd_demo(args) -> int:
    from alfred_core.demo import GRID_SCHEDULE, install_demo

    root = install_demo(args.folder)
    folder = root.parent
    print(f"demo project in {folder}, its grid search prepared in {root}")
    print(f"next: cd {folder} && alfred launch -p 2 && alfred status")
    print(f"  (or prepare more: alfred prepare {GRID_SCHEDULE} --desc mine)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alfred",
        description="Prepare, launch, watch and summarize searches of runs.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("prepare", help="build the tree of a schedule")
    p.add_argument("schedule", help="grid_schedule*.py or random_schedule*.py")
    p.add_argument("--desc", required=True, help="a short description ending the names")
    p.add_argument("--project", help="the project folder (default: the current one)")
    add_root(p)
    p.add_argument("--add-to", metavar="STORAGE_NAME", help="add to an existing search")
    p.add_argument(
        "--no-resample",
        action="store_true",
        help="random search: the same samples for every alg x task",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be made")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.set_defaults(handler=cmd_prepare)

    p = commands.add_parser(
        "launch", help="run the runs of searches with a pool of workers"
    )
    p.add_argument("storage", nargs="*", help="storage names (default: every search)")
    p.add_argument("--from-file", metavar="LIST", help="a list_searches_*.txt file")
    add_root(p)
    p.add_argument("-p", "--workers", type=int, default=1, help="number of workers")
    p.add_argument(
        "--max-runs", "--runs-per-worker", type=int, help="runs per worker, at most"
    )
    p.add_argument("--gpus", help="GPU ids given to workers round robin, e.g. 0,1")
    p.add_argument(
        "--clean-interrupted",
        action="store_true",
        help="first put LOST runs back to UNHATCHED",
    )
    p.add_argument(
        "--no-check-hash",
        action="store_true",
        help="run even if the code's git commit differs from the search's",
    )
    p.add_argument(
        "--detach",
        action="store_true",
        help="keep running after the terminal closes (log in the root)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="seconds between TERM and KILL when a run is stopped",
    )
    slurm = p.add_argument_group("Slurm (--executor slurm: one job array of workers)")
    slurm.add_argument(
        "--executor",
        choices=("local", "slurm"),
        default="local",
        help="where the workers run (default: local)",
    )
    slurm.add_argument("--partition", help="sbatch --partition")
    slurm.add_argument("--time", help="time limit per worker, e.g. 04:00:00")
    slurm.add_argument("--gres", help="resources per worker, e.g. gpu:1")
    slurm.add_argument("--cpus-per-task", type=int, help="CPUs per worker")
    slurm.add_argument("--mem", help="memory per worker, e.g. 16G")
    slurm.add_argument(
        "--sbatch-arg",
        action="append",
        metavar="ARG",
        help="any other sbatch option, e.g. --sbatch-arg=--qos=low (repeatable)",
    )
    slurm.add_argument(
        "--signal-lead",
        type=int,
        default=120,
        metavar="SECONDS",
        help="how long before a time limit the workers are told to "
        "requeue their runs (default: 120)",
    )
    p.set_defaults(handler=cmd_launch)

    p = commands.add_parser("status", help="count runs per state")
    p.add_argument("storage", nargs="*", help="storage names: list their runs too")
    add_root(p)
    p.add_argument("--json", action="store_true", help="the documented JSON document")
    p.set_defaults(handler=cmd_status)

    p = commands.add_parser("kill", help="stop runs, experiments or searches")
    p.add_argument(
        "targets", nargs="+", help="seed dirs, experiment dirs or storage names"
    )
    add_root(p)
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="seconds to wait for the runs' owners to confirm",
    )
    p.set_defaults(handler=cmd_kill)

    p = commands.add_parser("stop", help="stop a whole launch (runs back to UNHATCHED)")
    p.add_argument(
        "launches",
        nargs="+",
        metavar="LAUNCH",
        help="launch ids as `alfred status` lists them, or Slurm job ids",
    )
    add_root(p)
    p.set_defaults(handler=cmd_stop)

    p = commands.add_parser("clean", help="put interrupted runs back to UNHATCHED")
    p.add_argument("storage", nargs="*", help="storage names (default: every search)")
    add_root(p)
    p.add_argument(
        "--crashes", action="store_true", help="also crashed and killed runs"
    )
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(handler=cmd_clean)

    p = commands.add_parser("copy", help="copy a search with a new desc and overrides")
    p.add_argument("storage")
    p.add_argument("--desc", required=True)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    add_root(p)
    p.set_defaults(handler=cmd_copy)

    p = commands.add_parser(
        "demo", help="copy the demo project to a folder and prepare it"
    )
    p.add_argument("folder", nargs="?", default="alfred-demo")
    p.set_defaults(handler=cmd_demo)

    from alfred_core.results_cli import register

    register(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    if args.command == "launch":
        level = min(level, logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return args.handler(args)
    except AlfredError as error:
        print(f"alfred: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
