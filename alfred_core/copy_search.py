"""Copy a search's configurations into a new storage dir, with a new desc and overrides."""

from __future__ import annotations

import json
import shutil
import time

from alfred_core.errors import AlfredError
from alfred_core.prepare import META_FORMAT, check_desc, new_storage_dir, write_run
from alfred_core.project import git_hashes
from alfred_core.tree import SEARCH_META, Root, read_json, write_json_atomic


def parse_overrides(pairs: list[str]) -> dict:
    """`key=value` pairs; values are read as JSON when they can be (numbers, lists...)."""
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise AlfredError(f"--set {pair!r}: write it as key=value")
        try:
            overrides[key] = json.loads(text)
        except ValueError:
            overrides[key] = text
    return overrides


def copy_search(root: Root, name: str, desc: str, overrides: dict | None = None):
    """Create a new search with the same runs as `name`, overridden; returns its Search."""
    check_desc(desc)
    overrides = overrides or {}
    source = root.search(name)
    for key in overrides:
        if key in ("alg_name", "task_name", "seed"):
            raise AlfredError(
                f"--set {key}: alg_name, task_name and seed cannot be changed"
            )

    info = source.info
    hashes = git_hashes(source.project_dir) if source.project_dir else info.git_hashes
    with new_storage_dir(
        root, hashes, info.alg_name, info.task_name, info.search_type, desc
    ) as (ident, built):
        for run in source.runs():
            config = read_json(run.config_path)
            unknown = [key for key in overrides if key not in config]
            if unknown:
                raise AlfredError(
                    f"{run.config_path}: has no {unknown[0]!r}; --set only changes "
                    "existing hyperparameters"
                )
            config.update(overrides, desc=desc)
            target = built / run.experiment_dir.name
            target.mkdir(exist_ok=True)
            write_run(target / run.path.name, config, read_json(run.config_unique_path))

        for extra in ("variations.json", "sampled_values.json", "sampled_values.png"):
            if (source.path / extra).exists():
                shutil.copy2(source.path / extra, built / extra)
        meta = {
            **source.meta,
            "format": META_FORMAT,
            "id": ident,
            "git_hashes": hashes,
            "desc": desc,
            "created": time.time(),
            "copied_from": source.name,
            "overrides": overrides,
        }
        meta.setdefault("alg_name", info.alg_name)
        meta.setdefault("task_name", info.task_name)
        meta.setdefault("search_type", info.search_type)
        write_json_atomic(built / SEARCH_META, meta)
    return root.search(built.name)
