"""Synthetic searches written straight to disk, for tests, benchmarks and figures."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from alfred_core import flags
from alfred_core.recorder import stream_path
from alfred_core.tree import SEARCH_META, RunDir, Search, write_json_atomic


def write_search(
    root: Path,
    name: str,
    experiments: list[dict],
    seeds: list[int],
    variations: dict | None = None,
    search_type: str = "grid",
    base_config: dict | None = None,
    project_dir: Path | None = None,
) -> Search:
    """A storage dir with one UNHATCHED run per experiment and seed."""
    path = Path(root) / name
    path.mkdir(parents=True)
    alg, task = name.split("_")[2:4]
    for number, varied in enumerate(experiments, start=1):
        (path / f"experiment{number}").mkdir()
        for seed in seeds:
            seed_dir = path / f"experiment{number}" / f"seed{seed}"
            seed_dir.mkdir()
            reserved = {"alg_name": alg, "task_name": task, "seed": seed}
            config = {**(base_config or {}), **varied, **reserved, "desc": "synthetic"}
            (seed_dir / "config.json").write_text(json.dumps(config))
            (seed_dir / "config_unique.json").write_text(
                json.dumps({**reserved, **varied})
            )
            (seed_dir / flags.UNHATCHED).touch()
    if search_type == "grid":
        write_json_atomic(path / "variations.json", variations or {})
    else:
        write_json_atomic(
            path / "sampled_values.json",
            {f"experiment{n}": v for n, v in enumerate(experiments, start=1)},
        )
    meta = {
        "format": 1,
        "search_type": search_type,
        "seeds": seeds,
        "n_experiments": len(experiments),
        "alg_name": alg,
        "task_name": task,
    }
    if project_dir is not None:
        meta["project_dir"] = str(project_dir)
    write_json_atomic(path / SEARCH_META, meta)
    return Search(path)


def grid_experiments(variations: dict) -> list[dict]:
    """Every combination of the variations, the first key varying slowest."""
    keys = list(variations)
    return [
        dict(zip(keys, values)) for values in itertools.product(*variations.values())
    ]


def write_rows(run: RunDir, rows: list[dict]) -> None:
    """A run's metrics stream, as a Recorder would have written it."""
    path = stream_path(run.path)
    path.parent.mkdir(exist_ok=True)
    with open(path, "w") as file:
        file.write("".join(json.dumps(row) + "\n" for row in rows))


def set_state(run: RunDir, flag: str, info: dict | None = None) -> None:
    """Replace the run's flag by `flag` (COMPLETED, CRASH, KILLED, OPENED...)."""
    for name in flags.FLAG_PRIORITY:
        try:
            os.unlink(run.flag_path(name))
        except FileNotFoundError:
            pass
    if flag == flags.OPENED and info is None:
        info = {"owner": flags.owner_record(), "started": 0.0}
    with open(run.flag_path(flag), "w") as file:
        file.write(json.dumps(info) + "\n" if info else "")
