"""The directory tree: a root holds searches, a search experiments, an experiment runs."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from alfred_core.errors import TreeError

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("storage")
ADMIN_DIR = ".alfred"
SEARCH_META = "search.json"
EXPERIMENT_PREFIX = "experiment"
SEED_PREFIX = "seed"

_STORAGE_NAME = re.compile(
    r"^(?P<id>[A-Za-z]*\d+)_(?P<hashes>[^_]+)_(?P<alg>[^_]+)_(?P<task>[^_]+)"
    r"_(?P<type>grid|random)_(?P<desc>.+)$"
)
_NUMBERED = re.compile(r"^(experiment|seed)(\d+)$")


def numbered(name: str, prefix: str) -> int | None:
    """The number in `experiment12` or `seed3`, or None for other names."""
    match = _NUMBERED.match(name)
    if match is None or match.group(1) != prefix:
        return None
    return int(match.group(2))


def check_storage_name(name: str) -> str:
    """Refuse a storage name that could escape the root."""
    if (
        not name
        or "/" in name
        or os.sep in name
        or ".." in name
        or name.startswith(".")
    ):
        raise TreeError(
            f"{name!r}: a storage name is one folder name of the root, without '/' "
            "or '..'; pass the name as `alfred status` lists it"
        )
    return name


def write_json_atomic(path: Path, data, indent: int | None = 1) -> None:
    """Write JSON to a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as file:
        json.dump(data, file, indent=indent, sort_keys=False, default=str)
        file.write("\n")
    os.replace(tmp, path)


def read_json(path: Path):
    with open(path) as file:
        return json.load(file)


class RunDir:
    """One run: a seed dir, with its files as named properties."""

    __slots__ = ("path", "__dict__")

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def seed(self) -> int:
        return numbered(self.path.name, SEED_PREFIX)

    @property
    def experiment_num(self) -> int:
        return numbered(self.path.parent.name, EXPERIMENT_PREFIX)

    @property
    def experiment_dir(self) -> Path:
        return self.path.parent

    @property
    def storage_dir(self) -> Path:
        return self.path.parent.parent

    @property
    def root(self) -> Path:
        return self.path.parent.parent.parent

    @property
    def name(self) -> str:
        """`storage/experimentN/seedS`, how the run is named in messages."""
        return "/".join(self.path.parts[-3:])

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def config_unique_path(self) -> Path:
        return self.path / "config_unique.json"

    @property
    def log_path(self) -> Path:
        return self.path / "logger.out"

    @property
    def recorders_dir(self) -> Path:
        return self.path / "recorders"

    @property
    def incrementals_dir(self) -> Path:
        return self.path / "incrementals"

    @property
    def kill_request_path(self) -> Path:
        return self.path / "KILL_REQUEST"

    @property
    def progress_path(self) -> Path:
        return self.path / "progress.json"

    @property
    def result_path(self) -> Path:
        """Where a run's process leaves its error for the worker that watches it."""
        return self.path / ".run_result.json"

    def flag_path(self, flag: str) -> Path:
        return self.path / flag

    def read_config(self) -> dict:
        return read_json(self.config_path)

    def read_config_unique(self) -> dict:
        return read_json(self.config_unique_path)


@dataclass(frozen=True)
class SearchInfo:
    """What a storage dir's name and metadata say about the search."""

    id: str
    git_hashes: str
    alg_name: str
    task_name: str
    search_type: str
    desc: str


class Search:
    """One storage dir: a search of one algorithm on one task."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Search({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Search) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def meta_path(self) -> Path:
        return self.path / SEARCH_META

    @property
    def variations_path(self) -> Path:
        return self.path / "variations.json"

    @property
    def summary_dir(self) -> Path:
        return self.path / "summary"

    @property
    def benchmark_dir(self) -> Path:
        return self.path / "benchmark"

    @cached_property
    def meta(self) -> dict:
        """The search's metadata (search.json); empty for searches made by old tools."""
        try:
            return read_json(self.meta_path)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning(
                "%s is unreadable (%s); using the folder name", self.meta_path, error
            )
            return {}

    @cached_property
    def info(self) -> SearchInfo:
        meta = self.meta
        match = _STORAGE_NAME.match(self.name)
        parsed = match.groupdict() if match else {}
        return SearchInfo(
            id=meta.get("id", parsed.get("id", "")),
            git_hashes=meta.get("git_hashes", parsed.get("hashes", "")),
            alg_name=meta.get("alg_name", parsed.get("alg", "")),
            task_name=meta.get("task_name", parsed.get("task", "")),
            search_type=meta.get("search_type", parsed.get("type", "")),
            desc=meta.get("desc", parsed.get("desc", "")),
        )

    @property
    def project_dir(self) -> Path | None:
        project = self.meta.get("project_dir")
        return Path(project) if project else None

    def experiment_dirs(self) -> list[Path]:
        """Experiment dirs sorted by number."""
        found = []
        with os.scandir(self.path) as entries:
            for entry in entries:
                number = numbered(entry.name, EXPERIMENT_PREFIX)
                if number is not None and entry.is_dir():
                    found.append((number, Path(entry.path)))
        return [path for _, path in sorted(found)]

    def runs(self) -> list[RunDir]:
        """Every run, by experiment then seed."""
        runs = []
        for experiment_dir in self.experiment_dirs():
            runs.extend(runs_of_experiment(experiment_dir))
        return runs

    def next_experiment_num(self) -> int:
        numbers = [
            numbered(path.name, EXPERIMENT_PREFIX) for path in self.experiment_dirs()
        ]
        return max(numbers, default=0) + 1


def runs_of_experiment(experiment_dir: Path) -> list[RunDir]:
    """The seed dirs of one experiment, sorted by seed."""
    found = []
    with os.scandir(experiment_dir) as entries:
        for entry in entries:
            seed = numbered(entry.name, SEED_PREFIX)
            if seed is not None and entry.is_dir():
                found.append((seed, entry.path))
    return [RunDir(path) for _, path in sorted(found)]


def is_search_dir(path: Path) -> bool:
    """A storage dir has our metadata, or the name and experiments of the old tools."""
    if (path / SEARCH_META).is_file():
        return True
    if _STORAGE_NAME.match(path.name) is None:
        return False
    return any(numbered(p.name, EXPERIMENT_PREFIX) is not None for p in path.iterdir())


class Root:
    """The folder that holds every search."""

    def __init__(self, path: Path | str | None = None, must_exist: bool = True):
        self.path = (
            Path(path if path is not None else DEFAULT_ROOT).expanduser().absolute()
        )
        if must_exist and not self.path.is_dir():
            raise TreeError(
                f"{self.path}: the root does not exist; pass --root DIR of an existing "
                "folder, or prepare a search first"
            )

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    @property
    def admin_dir(self) -> Path:
        """Where launchers, locks and staging live (`.alfred/` in the root)."""
        return self.path / ADMIN_DIR

    def searches(self, warn_foreign: bool = True) -> list[Search]:
        """Every storage dir of the root, by name; foreign folders get a warning."""
        searches = []
        with os.scandir(self.path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith(".") or not entry.is_dir():
                    continue
                path = Path(entry.path)
                if is_search_dir(path):
                    searches.append(Search(path))
                elif warn_foreign:
                    logger.warning("%s is not a search; ignored", path)
        return searches

    def search(self, name: str) -> Search:
        """The storage dir of that name, or a clear error."""
        check_storage_name(name)
        path = self.path / name
        if not path.is_dir():
            raise TreeError(
                f"{path}: no such search in the root; `alfred status --root "
                f"{self.path}` lists them"
            )
        return Search(path)

    def resolve(self, target: str | Path) -> Path:
        """A path, or a name relative to the root, that must lie inside the root."""
        candidate = Path(target).expanduser()
        if not candidate.is_absolute():
            in_root = self.path / candidate
            candidate = (
                in_root if in_root.exists() or not candidate.exists() else candidate
            )
        resolved = candidate.resolve()
        root = self.path.resolve()
        if resolved != root and root not in resolved.parents:
            raise TreeError(f"{target}: is outside the root {self.path}; pass --root")
        if not resolved.exists():
            raise TreeError(
                f"{target}: no such search, experiment or run in {self.path}"
            )
        return resolved

    def runs_under(self, target: Path) -> list[RunDir]:
        """Every run in a search, an experiment or a seed dir inside the root."""
        depth = len(target.relative_to(self.path.resolve()).parts)
        if depth == 1:
            return Search(target).runs()
        if depth == 2:
            return runs_of_experiment(target)
        if depth == 3:
            return [RunDir(target)]
        raise TreeError(f"{target}: is not a search, an experiment or a run")
