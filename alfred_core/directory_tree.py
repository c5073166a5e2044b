"""`DirectoryTree`: where a run keeps its files, as user projects see it."""

from __future__ import annotations

import os
from pathlib import Path

from alfred_core.tree import DEFAULT_ROOT, RunDir, Search, runs_of_experiment


class DirectoryTree:
    """The folders of one run: root / storage_dir / experimentN / seedS.

    Made by alfred for each run it launches (and passed to the project's `main`), or by
    a project itself for a run started by hand.
    """

    default_root = DEFAULT_ROOT
    git_repos_to_track: dict = {}

    def __init__(
        self,
        alg_name: str,
        task_name: str,
        desc: str,
        seed: int,
        experiment_num: int = 1,
        git_hashes: str = "nogit",
        id: str = "Xx1",
        search_type: str = "grid",
        root: Path | str | None = None,
    ):
        self.alg_name = alg_name
        self.task_name = task_name
        self.desc = desc
        self.seed = seed
        self.experiment_num = experiment_num
        self.git_hashes = git_hashes
        self.id = id
        self.search_type = search_type
        self.root = Path(root if root is not None else self.default_root)
        self.storage_dir = self.root / (
            f"{id}_{git_hashes}_{alg_name}_{task_name}_{search_type}_{desc}"
        )
        self.experiment_dir = self.storage_dir / f"experiment{experiment_num}"
        self.seed_dir = self.experiment_dir / f"seed{seed}"

    @property
    def recorders_dir(self) -> Path:
        return self.seed_dir / "recorders"

    @property
    def incrementals_dir(self) -> Path:
        return self.seed_dir / "incrementals"

    @property
    def run(self) -> RunDir:
        return RunDir(self.seed_dir)

    def create_directories(self) -> None:
        self.recorders_dir.mkdir(parents=True, exist_ok=True)
        self.incrementals_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def init_from_seed_path(cls, seed_path, root=None, info=None) -> "DirectoryTree":
        """The tree of an existing seed dir (`info`: its search's, if already read)."""
        seed_path = Path(seed_path)
        run = RunDir(seed_path)
        info = info if info is not None else Search(run.storage_dir).info
        tree = cls(
            info.alg_name,
            info.task_name,
            info.desc,
            run.seed,
            run.experiment_num,
            info.git_hashes,
            info.id,
            info.search_type,
            root if root is not None else run.root,
        )
        tree.storage_dir = run.storage_dir
        tree.experiment_dir = run.experiment_dir
        tree.seed_dir = seed_path
        return tree

    @classmethod
    def init_from_branching_info(cls, root_dir, storage_name, experiment_num, seed):
        path = (
            Path(root_dir)
            / storage_name
            / f"experiment{experiment_num}"
            / f"seed{seed}"
        )
        return cls.init_from_seed_path(path, root_dir)

    @staticmethod
    def get_all_experiments_names(storage_dir) -> list[str]:
        return [path.name for path in Search(storage_dir).experiment_dirs()]

    @staticmethod
    def get_all_seeds(experiment_dir) -> list[Path]:
        return [run.path for run in runs_of_experiment(Path(experiment_dir))]

    @classmethod
    def current(cls) -> "DirectoryTree | None":
        """The tree of the run this process executes for alfred, if any."""
        seed_dir = os.environ.get("ALFRED_SEED_DIR")
        return cls.init_from_seed_path(seed_dir) if seed_dir else None
