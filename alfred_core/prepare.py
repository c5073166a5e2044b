"""Prepare a search: one storage dir per alg x task, built aside and moved in whole."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alfred_core.errors import ScheduleError, TreeError
from alfred_core.flags import UNHATCHED
from alfred_core.project import Project, git_hashes, load_project, user_prefix
from alfred_core.schedule import GRID, RANDOM, Schedule, check_keys, load_schedule
from alfred_core.schedule import schedule_default_args
from alfred_core.tree import (
    SEARCH_META,
    Root,
    Search,
    check_storage_name,
    read_json,
    write_json_atomic,
)

logger = logging.getLogger(__name__)

META_FORMAT = 1
_ID = re.compile(r"^[A-Za-z]*(\d+)_")


@dataclass
class PlannedSearch:
    """One storage dir to create, or to add experiments and seeds to."""

    alg_name: str
    task_name: str
    seeds: list[int]
    new_experiments: list[tuple[int, dict]]
    new_seeds: list[tuple[int, dict, int]] = field(default_factory=list)
    existing: Search | None = None
    name: str = ""

    @property
    def run_count(self) -> int:
        return len(self.new_experiments) * len(self.seeds) + len(self.new_seeds)


@dataclass
class Plan:
    """What a prepare will create; nothing is written until `execute_plan`."""

    schedule: Schedule
    project: Project
    root: Root
    desc: str
    git_hashes: str
    base_config: dict
    searches: list[PlannedSearch]
    prefix: str = ""

    @property
    def run_count(self) -> int:
        return sum(search.run_count for search in self.searches)

    def describe(self) -> str:
        lines = []
        for search in self.searches:
            verb = "add to" if search.existing else "create"
            lines.append(
                f"{verb} {search.name}: {len(search.new_experiments)} experiments x "
                f"{len(search.seeds)} seeds"
                + (f" + {len(search.new_seeds)} new seeds" if search.new_seeds else "")
                + f" = {search.run_count} runs"
            )
        lines.append(
            f"total: {self.run_count} runs in {len(self.searches)} storage dirs "
            f"under {self.root.path}"
        )
        return "\n".join(lines)


def check_desc(desc: str) -> str:
    if (
        not desc
        or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", desc)
        or ".." in desc
    ):
        raise TreeError(
            f"--desc {desc!r}: use letters, digits and _ . + - (it ends the storage "
            "dir's name)"
        )
    return desc


def storage_name(ident: str, hashes: str, alg: str, task: str, kind: str, desc: str):
    return f"{ident}_{hashes}_{alg}_{task}_{kind}_{desc}"


def used_ordinals(root: Root) -> set[int]:
    """Ordinals taken by storage dirs of the root and by reservations."""
    used = set()
    if root.path.is_dir():
        for name in os.listdir(root.path):
            match = _ID.match(name)
            if match:
                used.add(int(match.group(1)))
    ids_dir = root.admin_dir / "ids"
    if ids_dir.is_dir():
        used.update(int(name) for name in os.listdir(ids_dir) if name.isdigit())
    return used


def reserve_ordinal(root: Root) -> int:
    """Take the next free ordinal; mkdir is atomic, so two prepares never share one."""
    ids_dir = root.admin_dir / "ids"
    ids_dir.mkdir(parents=True, exist_ok=True)
    ordinal = max(used_ordinals(root), default=0) + 1
    while True:
        try:
            os.mkdir(ids_dir / str(ordinal))
            return ordinal
        except FileExistsError:
            ordinal += 1


@contextmanager
def new_storage_dir(root: Root, hashes: str, alg: str, task: str, kind: str, desc: str):
    """Yield (id, folder) of a new storage dir built aside, moved into the root whole.

    Its id is reserved atomically; an error inside the block leaves nothing behind.
    """
    staging = root.admin_dir / "staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    reservation = None
    try:
        ordinal = reserve_ordinal(root)
        reservation = root.admin_dir / "ids" / str(ordinal)
        ident = f"{user_prefix()}{ordinal}"
        name = storage_name(ident, hashes, alg, task, kind, desc)
        check_storage_name(name)
        built = staging / name
        built.mkdir()
        yield ident, built
        os.rename(
            built, root.path / name
        )  # fails if the name exists: nothing overwritten
    except BaseException:
        if reservation is not None:
            shutil.rmtree(reservation, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def varied_of(config_unique: dict) -> dict:
    return {
        k: v
        for k, v in config_unique.items()
        if k not in ("alg_name", "task_name", "seed")
    }


def plan_prepare(
    schedule_path,
    desc: str,
    root: Path | str | None = None,
    project_dir: Path | str | None = None,
    add_to: str | None = None,
    resample: bool = True,
) -> Plan:
    """Check everything and plan the storage dirs; writes nothing."""
    check_desc(desc)
    schedule = load_schedule(schedule_path)
    project = load_project(project_dir if project_dir is not None else Path.cwd())
    root = Root(
        root if root is not None else project.settings.get("root"),
        must_exist=add_to is not None,
    )
    if not root.path.is_dir() and not root.path.parent.is_dir():
        raise TreeError(
            f"{root.path}: its parent folder does not exist; pass --root DIR"
        )

    defaults = schedule_default_args(schedule, project)
    base_config = vars(defaults).copy()
    hashes = git_hashes(project.path, project.settings)
    pairs = [(alg, task) for alg in schedule.alg_names for task in schedule.task_names]

    if add_to is not None:
        existing = root.search(add_to)
        pair = (existing.info.alg_name, existing.info.task_name)
        if pair not in pairs or existing.info.search_type != schedule.search_type:
            raise ScheduleError(
                f"{schedule.path}: it has no {existing.info.search_type} search of "
                f"{pair[0]} on {pair[1]}, so it cannot add to {add_to}"
            )
        searches = [plan_addition(schedule, existing)]
    else:
        shared = schedule.sample(schedule.n_experiments) if not resample else None
        searches = []
        for alg, task in pairs:
            if schedule.search_type == GRID:
                varied = schedule.experiments()
            else:
                varied = (
                    shared
                    if shared is not None
                    else schedule.sample(schedule.n_experiments)
                )
            experiments = list(enumerate(varied, start=1))
            searches.append(PlannedSearch(alg, task, list(schedule.seeds), experiments))

    for search in searches:
        for _, varied in search.new_experiments + [
            (n, v) for n, v, _ in search.new_seeds
        ]:
            check_keys(schedule, varied, defaults)
            try:
                json.dumps(varied)
            except TypeError as error:
                raise ScheduleError(
                    f"{schedule.path}: a value is not JSON ({error}); use numbers, "
                    "strings, booleans or lists of them"
                ) from None

    plan = Plan(schedule, project, root, desc, hashes, base_config, searches)
    name_planned(plan)
    return plan


def plan_addition(schedule: Schedule, search: Search) -> PlannedSearch:
    """New experiments and seeds for an existing storage dir."""
    known = {}
    for experiment_dir in search.experiment_dirs():
        number = int(experiment_dir.name.removeprefix("experiment"))
        seeds = sorted(int(p.name[4:]) for p in experiment_dir.glob("seed[0-9]*"))
        if not seeds:
            continue
        varied = varied_of(
            read_json(experiment_dir / f"seed{seeds[0]}" / "config_unique.json")
        )
        known[json.dumps(varied, sort_keys=True)] = (number, varied, seeds)

    next_num = search.next_experiment_num()
    planned = PlannedSearch(
        search.info.alg_name,
        search.info.task_name,
        list(schedule.seeds),
        [],
        existing=search,
        name=search.name,
    )
    if schedule.search_type == RANDOM:
        candidates = schedule.sample(schedule.n_experiments)
    else:
        candidates = schedule.experiments()
    for varied in candidates:
        key = json.dumps(varied, sort_keys=True)
        if schedule.search_type == GRID and key in known:
            number, varied, seeds = known[key]
            planned.new_seeds += [
                (number, varied, s) for s in schedule.seeds if s not in seeds
            ]
            continue
        planned.new_experiments.append((next_num, varied))
        next_num += 1
    return planned


def name_planned(plan: Plan) -> None:
    """Give new storage dirs the names they would get now (final ids come at execution)."""
    start = max(used_ordinals(plan.root), default=0) + 1
    prefix = user_prefix()
    new = [search for search in plan.searches if search.existing is None]
    for offset, search in enumerate(new):
        search.name = storage_name(
            f"{prefix}{start + offset}",
            plan.git_hashes,
            search.alg_name,
            search.task_name,
            plan.schedule.search_type,
            plan.desc,
        )
    plan.prefix = prefix


def write_run(seed_dir: Path, config: dict, config_unique: dict) -> None:
    os.mkdir(seed_dir)
    with open(seed_dir / "config.json", "w") as file:
        file.write(json.dumps(config, indent=2))
    with open(seed_dir / "config_unique.json", "w") as file:
        file.write(json.dumps(config_unique, indent=2))
    os.close(os.open(seed_dir / UNHATCHED, os.O_CREAT | os.O_WRONLY, 0o644))


def build_experiment(
    plan: Plan, search: PlannedSearch, experiment_dir: Path, varied: dict, seeds
) -> None:
    os.mkdir(experiment_dir)
    for seed in seeds:
        write_seed(plan, search, experiment_dir / f"seed{seed}", varied, seed)


def write_seed(
    plan: Plan, search: PlannedSearch, seed_dir: Path, varied: dict, seed: int
):
    reserved = {
        "alg_name": search.alg_name,
        "task_name": search.task_name,
        "seed": seed,
    }
    config = {**plan.base_config, **varied, **reserved, "desc": plan.desc}
    write_run(seed_dir, config, {**reserved, **varied})


def search_meta(plan: Plan, search: PlannedSearch, ident: str) -> dict:
    varied_keys = sorted(
        {key for _, varied in search.new_experiments for key in varied}
    )
    return {
        "format": META_FORMAT,
        "id": ident,
        "git_hashes": plan.git_hashes,
        "alg_name": search.alg_name,
        "task_name": search.task_name,
        "search_type": plan.schedule.search_type,
        "desc": plan.desc,
        "project_dir": str(plan.project.path),
        "schedule_file": str(plan.schedule.path),
        "created": time.time(),
        "seeds": search.seeds,
        "n_experiments": len(search.new_experiments),
        "varied_keys": varied_keys,
    }


def write_variations(plan: Plan, search: PlannedSearch, storage_dir: Path) -> None:
    if plan.schedule.search_type == GRID:
        variations = read_json_or(storage_dir / "variations.json", {})
        for key, values in plan.schedule.variations.items():
            merged = variations.setdefault(key, [])
            merged.extend(value for value in values if value not in merged)
        write_json_atomic(storage_dir / "variations.json", variations)
        return

    samples = read_json_or(storage_dir / "sampled_values.json", {})
    for number, varied in search.new_experiments:
        samples[f"experiment{number}"] = varied
    write_json_atomic(storage_dir / "sampled_values.json", samples)
    plot_samples(samples, storage_dir / "sampled_values.png")


def read_json_or(path: Path, default):
    try:
        return read_json(path)
    except FileNotFoundError:
        return default


def plot_samples(samples: dict, png: Path) -> None:
    """One panel per sampled hyperparameter: its value in each experiment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({key for varied in samples.values() for key in varied})
    if not keys:
        return
    figure, axes = plt.subplots(
        len(keys), 1, figsize=(7, 1.8 * len(keys)), squeeze=False
    )
    for ax, key in zip(axes[:, 0], keys):
        values = [varied.get(key) for varied in samples.values()]
        numeric = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        )
        if numeric:
            ax.plot(range(1, len(values) + 1), values, "o", markersize=3)
            positive = all(v > 0 for v in values)
            if positive and max(values) / min(values) > 100:
                ax.set_yscale("log")
        else:
            labels = [str(v) for v in values]
            ax.plot(range(1, len(values) + 1), labels, "o", markersize=3)
        ax.set_ylabel(key)
    axes[-1, 0].set_xlabel("experiment")
    figure.tight_layout()
    figure.savefig(png, dpi=90)
    plt.close(figure)


def execute_plan(plan: Plan) -> list[Search]:
    """Build the planned dirs aside, then move them into the root whole.

    An error half-way removes what this prepare built, so the root never holds a
    half-made search.
    """
    root = plan.root
    root.path.mkdir(parents=True, exist_ok=True)
    staging = root.admin_dir / "staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    moved: list[Path] = []
    try:
        for search in plan.searches:
            if search.existing is None:
                moved.append(create_search(plan, search))
            else:
                moved.extend(extend_search(plan, search, staging))
    except BaseException:
        for path in reversed(moved):
            shutil.rmtree(path, ignore_errors=True)
            created = _ID.match(path.name) if path.parent == root.path else None
            if created:
                shutil.rmtree(
                    root.admin_dir / "ids" / created.group(1), ignore_errors=True
                )
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    record_searches(plan)
    return [root.search(search.name) for search in plan.searches]


def create_search(plan: Plan, search: PlannedSearch) -> Path:
    with new_storage_dir(
        plan.root,
        plan.git_hashes,
        search.alg_name,
        search.task_name,
        plan.schedule.search_type,
        plan.desc,
    ) as (ident, built):
        search.name = built.name
        for number, varied in search.new_experiments:
            build_experiment(
                plan, search, built / f"experiment{number}", varied, search.seeds
            )
        write_variations(plan, search, built)
        write_json_atomic(built / SEARCH_META, search_meta(plan, search, ident))
    logger.info("created %s", search.name)
    return plan.root.path / search.name


def extend_search(plan: Plan, search: PlannedSearch, staging: Path) -> list[Path]:
    storage_dir = search.existing.path
    built = []
    for number, varied in search.new_experiments:
        path = staging / f"experiment{number}"
        build_experiment(plan, search, path, varied, search.seeds)
        built.append((path, storage_dir / path.name))
    for number, varied, seed in search.new_seeds:
        path = staging / f"experiment{number}_seed{seed}"
        write_seed(plan, search, path, varied, seed)
        built.append((path, storage_dir / f"experiment{number}" / f"seed{seed}"))

    moved = []
    for source, target in built:
        if target.exists():
            raise TreeError(f"{target}: already exists; another prepare added it first")
        os.rename(source, target)
        moved.append(target)

    meta = dict(search.existing.meta)
    meta["n_experiments"] = len(search.existing.experiment_dirs())
    meta["seeds"] = sorted(set(meta.get("seeds", [])) | set(search.seeds))
    keys = set(meta.get("varied_keys", []))
    keys.update(k for _, v in search.new_experiments for k in v)
    meta["varied_keys"] = sorted(keys)
    write_json_atomic(search.existing.meta_path, meta)
    write_variations(plan, search, storage_dir)
    return moved


def record_searches(plan: Plan) -> None:
    """Append the storage names to list_searches_<desc>.txt beside the schedule."""
    listing = plan.schedule.path.parent / f"list_searches_{plan.desc}.txt"
    try:
        with open(listing, "a") as file:
            for search in plan.searches:
                file.write(search.name + "\n")
    except OSError as error:
        logger.warning("could not append to %s (%s)", listing, error)
