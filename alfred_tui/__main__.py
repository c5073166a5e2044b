"""`alfred-tui`: the terminal app over a root of searches."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from alfred_core.errors import AlfredError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alfred-tui",
        description="Watch and drive the searches of a root, live, from the terminal.",
    )
    parser.add_argument(
        "--root", help="the folder of the searches (default: $ALFRED_ROOT or ./storage)"
    )
    parser.add_argument(
        "--project",
        help="the project folder, for prepare "
        "(default: the project of the root's searches)",
    )
    parser.add_argument(
        "--poll",
        action="store_true",
        help="poll the root instead of inotify (network file systems)",
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        const="alfred-demo",
        metavar="DIR",
        help="copy the demo project to DIR (default ./alfred-demo), "
        "prepare it if new, and open on it",
    )
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        project = args.project
        if args.demo is not None:
            from alfred_core.demo import install_demo

            root = install_demo(args.demo)
            project = project or str(root.parent)
        else:
            root = Path(args.root or os.environ.get("ALFRED_ROOT", "storage"))
        from alfred_core.tree import Root

        root_path = Root(root).path
    except AlfredError as error:
        print(f"alfred-tui: error: {error}", file=sys.stderr)
        return error.exit_code

    from alfred_tui.app import AlfredApp

    AlfredApp(root_path, project_dir=project, poll=args.poll).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
