"""Schedule files: grid_schedule*.py and random_schedule*.py."""

from __future__ import annotations

import argparse
import ast
import itertools
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from alfred_core.errors import AlfredError, ScheduleError
from alfred_core.project import (
    RESERVED_KEYS,
    Project,
    args_function,
    default_args,
    import_file,
)

GRID = "grid"
RANDOM = "random"
_NAME = re.compile(r"^(grid|random)_schedule\w*\.py$")
REQUIRED = {
    GRID: ("ALG_NAMES", "TASK_NAMES", "SEEDS", "VARIATIONS"),
    RANDOM: ("ALG_NAMES", "TASK_NAMES", "SEEDS", "N_EXPERIMENTS", "sample_experiment"),
}


@dataclass
class Schedule:
    """A loaded, checked schedule."""

    path: Path
    search_type: str
    alg_names: list[str]
    task_names: list[str]
    seeds: list[int]
    module: ModuleType

    @property
    def variations(self) -> dict[str, list]:
        return dict(self.module.VARIATIONS) if self.search_type == GRID else {}

    def experiments(self) -> list[dict]:
        """Every grid combination, in the order of VARIATIONS's keys."""
        keys = list(self.variations)
        values = [self.variations[key] for key in keys]
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]

    def sample(self, count: int) -> list[dict]:
        """`count` configurations drawn by the schedule's sample_experiment()."""
        samples = []
        for _ in range(count):
            sample = self.module.sample_experiment()
            if not isinstance(sample, dict):
                raise ScheduleError(
                    f"{self.path}: sample_experiment() must return a dict of "
                    "hyperparameter -> value"
                )
            samples.append(sample)
        return samples

    @property
    def n_experiments(self) -> int:
        return int(self.module.N_EXPERIMENTS) if self.search_type == RANDOM else 0


def load_schedule(path: Path | str) -> Schedule:
    """Import a schedule file and check its names and types."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ScheduleError(
            f"{path}: no such schedule file; give the path of a .py file"
        )
    match = _NAME.match(path.name)
    if match is None:
        raise ScheduleError(
            f"{path}: a schedule is named grid_schedule*.py or random_schedule*.py; "
            "rename it"
        )
    search_type = match.group(1)

    module_name = f"_alfred_schedule_{uuid.uuid4().hex}"
    try:
        module = import_file(path, module_name)
    except SyntaxError as error:
        raise ScheduleError(
            f"{path}:{error.lineno}: syntax error ({error.msg}); fix it and retry"
        ) from None
    except Exception as error:
        raise ScheduleError(
            f"{path}: importing it failed ({type(error).__name__}: {error})"
        ) from None

    for name in REQUIRED[search_type]:
        if not hasattr(module, name):
            raise ScheduleError(f"{path}: a {search_type} schedule must define {name}")

    for name in ("ALG_NAMES", "TASK_NAMES", "SEEDS"):
        value = getattr(module, name)
        if not isinstance(value, (list, tuple)) or not value:
            raise ScheduleError(f"{path}: {name} must be a non-empty list")
    for name in ("ALG_NAMES", "TASK_NAMES"):
        for item in getattr(module, name):
            if not isinstance(item, str) or not item or "_" in item or "/" in item:
                raise ScheduleError(
                    f"{path}: {name} holds {item!r}; names are non-empty strings "
                    "without '_' or '/' (they form the storage dir's name)"
                )
    if any(not isinstance(seed, int) for seed in module.SEEDS):
        raise ScheduleError(f"{path}: SEEDS must hold integers")
    if len(set(module.SEEDS)) != len(module.SEEDS):
        raise ScheduleError(f"{path}: SEEDS names a seed twice")

    schedule = Schedule(
        path,
        search_type,
        list(module.ALG_NAMES),
        list(module.TASK_NAMES),
        list(module.SEEDS),
        module,
    )
    if search_type == GRID:
        check_variations(schedule)
    elif not callable(module.sample_experiment):
        raise ScheduleError(f"{path}: sample_experiment must be a function")
    elif not isinstance(module.N_EXPERIMENTS, int) or module.N_EXPERIMENTS < 1:
        raise ScheduleError(f"{path}: N_EXPERIMENTS must be a positive integer")
    return schedule


def repeated_literal_keys(path: Path, name: str) -> list[str]:
    """Keys written twice in the dict literal assigned to `name` (Python keeps the last)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    repeated = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Dict):
            continue
        if not any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            continue
        seen = set()
        for key in node.value.keys:
            if isinstance(key, ast.Constant):
                if key.value in seen:
                    repeated.append(key.value)
                seen.add(key.value)
    return repeated


def check_variations(schedule: Schedule) -> None:
    variations = schedule.module.VARIATIONS
    repeated = repeated_literal_keys(schedule.path, "VARIATIONS")
    if repeated:
        raise ScheduleError(
            f"{schedule.path}: VARIATIONS names {repeated[0]!r} twice; keep one entry"
        )
    if not isinstance(variations, dict):
        raise ScheduleError(
            f"{schedule.path}: VARIATIONS must be a dict of key -> list"
        )
    for key, values in variations.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ScheduleError(
                f"{schedule.path}: VARIATIONS[{key!r}] must be a non-empty list"
            )
        if len({repr(value) for value in values}) != len(values):
            raise ScheduleError(f"{schedule.path}: VARIATIONS[{key!r}] repeats a value")


def check_keys(schedule: Schedule, keys, known: argparse.Namespace) -> None:
    """Refuse varied keys that are reserved or unknown to the project's args."""
    for key in keys:
        if key in RESERVED_KEYS:
            raise ScheduleError(
                f"{schedule.path}: {key!r} may not be varied; it is set by ALG_NAMES, "
                "TASK_NAMES, SEEDS or --desc"
            )
        if not hasattr(known, key):
            raise ScheduleError(
                f"{schedule.path}: {key!r} is not an argument of the project's "
                "get_main_args(); fix the name or add the argument"
            )


def schedule_default_args(schedule: Schedule, project: Project) -> argparse.Namespace:
    """The defaults a schedule's runs start from: its own args function, or the project's."""
    function = args_function(schedule.module)
    if function is not None:
        return default_args(function, schedule.path)
    try:
        return project.default_args()
    except AlfredError:
        raise
    except Exception as error:
        raise ScheduleError(
            f"{project.main_file}: get_main_args('') failed ({type(error).__name__}: "
            f"{error})"
        ) from None
