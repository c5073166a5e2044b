"""The built-in demo project, copied out and prepared by `alfred demo DIR`."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

PROJECT = Path(__file__).parent / "project"
GRID_SCHEDULE = "schedules/grid_schedule_demo.py"
RANDOM_SCHEDULE = "schedules/random_schedule_demo.py"
DEFAULT_DIR = Path("alfred-demo")


def install_demo(folder: Path | str = DEFAULT_DIR, prepare: bool = True) -> Path:
    """Copy the demo project into `folder` and prepare its grid search once.

    Returns the root (`folder/storage`). A folder that already holds the demo is reused
    as it is, so nothing computed there is touched.
    """
    folder = Path(folder).expanduser().absolute()
    root = folder / "storage"
    if not (folder / "main.py").exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            PROJECT,
            folder,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        logger.info("copied the demo project to %s", folder)

    if prepare and not (root.is_dir() and any(root.iterdir())):
        from alfred_core.prepare import execute_plan, plan_prepare

        plan = plan_prepare(
            folder / GRID_SCHEDULE, "demo", root=root, project_dir=folder
        )
        execute_plan(plan)
        logger.info("prepared %d runs in %s", plan.run_count, root)
    return root
