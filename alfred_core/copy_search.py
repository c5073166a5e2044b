"""Copy a search's configurations into a new storage dir, with a new desc and overrides."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

from alfred_core.errors import AlfredError
from alfred_core.prepare import META_FORMAT, check_desc, reserve_ordinal, storage_name, write_run
from alfred_core.project import git_hashes, user_prefix
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
            raise AlfredError(f"--set {key}: alg_name, task_name and seed cannot be changed")

    info = source.info
    hashes = git_hashes(source.project_dir) if source.project_dir else info.git_hashes
    staging = root.admin_dir / "staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    reservation = None
    try:
        ordinal = reserve_ordinal(root)
        reservation = root.admin_dir / "ids" / str(ordinal)
        ident = f"{user_prefix()}{ordinal}"
        new_name = storage_name(ident, hashes, info.alg_name, info.task_name,
                                info.search_type, desc)
        built = staging / new_name
        built.mkdir()
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
        meta = {**source.meta, "format": META_FORMAT, "id": ident, "git_hashes": hashes,
                "desc": desc, "created": time.time(), "copied_from": source.name,
                "overrides": overrides}
        meta.setdefault("alg_name", info.alg_name)
        meta.setdefault("task_name", info.task_name)
        meta.setdefault("search_type", info.search_type)
        write_json_atomic(built / SEARCH_META, meta)
        os.rename(built, root.path / new_name)
    except BaseException:
        if reservation is not None:
            shutil.rmtree(reservation, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root.search(new_name)
