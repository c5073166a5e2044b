"""Retrain the best configuration of a search with more seeds and a longer budget."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from alfred_core.errors import AlfredError
from alfred_core.prepare import META_FORMAT, new_storage_dir, write_run
from alfred_core.project import git_hashes
from alfred_core.results.data import RESERVED, metric_defaults, read_json_object
from alfred_core.tree import SEARCH_META, Root, Search, read_json, write_json_atomic

logger = logging.getLogger(__name__)

RETRAIN_TAG = "retrainBest"


def read_mapping(path: Path | str) -> dict:
    """A hand-written mapping: storage name -> experiment number or hyperparameters."""
    return read_json_object(
        path,
        "a JSON object of storage name -> experiment number (or -> "
        "{hyperparameter: value})",
    )


def existing_retrain(root: Root, search: Search) -> Search | None:
    """The retrain already made from `search`, if any."""
    for candidate in root.searches(warn_foreign=False):
        if candidate.meta.get("retrain_of") == search.name:
            return candidate
    return None


def best_choice(search: Search, mapping: dict | None) -> tuple[int | None, dict, dict]:
    """(experiment number or None, hyperparameters to set, how it was chosen)."""
    if mapping is not None:
        if search.name not in mapping:
            raise AlfredError(f"the mapping file names no entry for {search.name}")
        chosen = mapping[search.name]
        if isinstance(chosen, dict):
            return None, dict(chosen), {"from": "mapping"}
        number = str(chosen).removeprefix("experiment")
        if not number.isdigit():
            raise AlfredError(
                f"mapping entry {search.name}: {chosen!r} is neither an experiment "
                "number nor an object of hyperparameters"
            )
        number = int(number)
        return number, varied_of_experiment(search, number), {"from": "mapping"}

    info_path = search.summary_dir / "bestConfig_info.json"
    info = None
    if info_path.exists():
        try:
            info = read_json(info_path)
        except (OSError, ValueError) as error:
            logger.warning("%s unreadable (%s); summarizing again", info_path, error)
    if (
        info is None
        or not (search.path / f"experiment{info.get('experiment')}").is_dir()
    ):
        from alfred_core.results.summarize import summarize

        best = summarize(search).best
        if best is None:
            raise AlfredError(
                f"{search.path}: no experiment has a score to rank (see "
                f"{search.summary_dir}); finish some runs or pass --mapping FILE"
            )
        info = read_json(info_path)
    number = int(info["experiment"])
    chosen = {k: info[k] for k in ("score", "score_metric", "aggregate") if k in info}
    return number, varied_of_experiment(search, number), {"from": "summary", **chosen}


def varied_of_experiment(search: Search, number: int) -> dict:
    experiment_dir = search.path / f"experiment{number}"
    for seed_dir in sorted(experiment_dir.glob("seed*")):
        try:
            unique = read_json(seed_dir / "config_unique.json")
        except (OSError, ValueError):
            continue
        return {k: v for k, v in unique.items() if k not in RESERVED}
    raise AlfredError(f"{experiment_dir}: no readable config_unique.json; pick another")


def base_config(search: Search, number: int | None) -> dict:
    """The full configuration to start from: the chosen experiment's, else the first."""
    candidates = [
        r for r in search.runs() if number is None or r.experiment_num == number
    ]
    for run in candidates:
        try:
            return run.read_config()
        except (OSError, ValueError):
            continue
    raise AlfredError(f"{search.path}: no readable config.json to retrain from")


def stretch_budget(config: dict, keys: list[str], factor: float, source: Path) -> dict:
    """Multiply each budget key; integers stay integers."""
    changed = {}
    for key in keys:
        if key not in config:
            raise AlfredError(
                f"{source}: its configs have no {key!r}; pass --budget-key with one of "
                "the hyperparameters"
            )
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AlfredError(f"{source}: {key}={value!r} is not a number to multiply")
        stretched = value * factor
        config[key] = int(round(stretched)) if isinstance(value, int) else stretched
        changed[key] = [value, config[key]]
    return changed


def create_retrain_best(
    root: Root,
    search: Search,
    seeds: int = 10,
    time_factor: float = 2.0,
    budget_keys: list[str] | None = None,
    mapping: dict | None = None,
) -> Search:
    """A new storage dir: the best configuration, `seeds` new seeds, a longer budget."""
    previous = existing_retrain(root, search)
    if previous is not None:
        raise AlfredError(
            f"{search.name} already has a retrain: {previous.name}; launch that one, or "
            "delete it to make another"
        )
    if seeds < 1:
        raise AlfredError("--seeds must be at least 1")
    if time_factor <= 0:
        raise AlfredError("--time-factor must be positive")

    if budget_keys is None:
        budget_key = metric_defaults(search).get("budget_key")
        budget_keys = [budget_key] if budget_key else []
        if isinstance(budget_key, list):
            budget_keys = list(budget_key)
    if not budget_keys and time_factor != 1:
        raise AlfredError(
            f"{search.name}: no budget key to multiply; pass --budget-key KEY (e.g. "
            "max_epochs), set budget_key in set_up_alfred(), or --time-factor 1"
        )

    number, varied, chosen = best_choice(search, mapping)
    config = base_config(search, number)
    unknown = [key for key in varied if key not in config]
    if unknown:
        raise AlfredError(f"{search.name}: the configs have no {unknown[0]!r} to set")
    config.update(varied)
    budget = stretch_budget(config, budget_keys, time_factor, search.path)
    return build_retrain(
        root, search, config, varied, number, chosen, budget, seeds, time_factor
    )


def build_retrain(
    root: Root,
    search: Search,
    config: dict,
    varied: dict,
    number: int | None,
    chosen: dict,
    budget: dict,
    n_seeds: int,
    time_factor: float,
) -> Search:
    """Build the storage dir under staging and move it into the root whole."""
    info = search.info
    hashes = git_hashes(search.project_dir) if search.project_dir else info.git_hashes
    used = [r.seed for r in search.runs() if r.seed is not None]
    first_seed = max(used, default=0) + 1
    seeds = list(range(first_seed, first_seed + n_seeds))
    desc = f"{info.desc}_{RETRAIN_TAG}{info.id}"

    kind = info.search_type or "grid"
    with new_storage_dir(root, hashes, info.alg_name, info.task_name, kind, desc) as (
        ident,
        built,
    ):
        (built / "experiment1").mkdir(parents=True)
        reserved = {"alg_name": info.alg_name, "task_name": info.task_name}
        for seed in seeds:
            run_config = {**config, **reserved, "seed": seed, "desc": desc}
            write_run(
                built / "experiment1" / f"seed{seed}",
                run_config,
                {**reserved, "seed": seed, **varied},
            )

        if info.search_type == "random":
            write_json_atomic(built / "sampled_values.json", {"experiment1": varied})
        else:
            variations = {key: [value] for key, value in varied.items()}
            write_json_atomic(built / "variations.json", variations)
        meta = {
            **search.meta,
            "format": META_FORMAT,
            "id": ident,
            "git_hashes": hashes,
            "alg_name": info.alg_name,
            "task_name": info.task_name,
            "search_type": info.search_type or "grid",
            "desc": desc,
            "created": time.time(),
            "seeds": seeds,
            "n_experiments": 1,
            "varied_keys": sorted(varied),
            "retrain_of": search.name,
            "retrain": {
                "experiment": number,
                "varied": varied,
                "seeds": seeds,
                "time_factor": time_factor,
                "budget": budget,
                **chosen,
            },
        }
        meta.pop("copied_from", None)
        meta.pop("overrides", None)
        write_json_atomic(built / SEARCH_META, meta)
    name = built.name

    record_retrain(search, name)
    logger.info("created %s from %s", name, search.name)
    return root.search(name)


def record_retrain(search: Search, name: str) -> None:
    """Append the retrain's name to list_retrains_<desc>.txt beside the schedule."""
    schedule = search.meta.get("schedule_file")
    if not schedule or not Path(schedule).parent.is_dir():
        return
    listing = Path(schedule).parent / f"list_retrains_{search.info.desc}.txt"
    try:
        with open(listing, "a") as file:
            file.write(name + "\n")
    except OSError as error:
        logger.warning("could not append to %s (%s)", listing, error)


def describe_retrain(retrain: Search) -> str:
    details = retrain.meta.get("retrain", {})
    budget = ", ".join(
        f"{k} {a} -> {b}" for k, (a, b) in details.get("budget", {}).items()
    )
    seeds = details.get("seeds", [])
    text = (
        f"created {retrain.name}: experiment{details.get('experiment')} of "
        f"{retrain.meta.get('retrain_of')} ({json.dumps(details.get('varied', {}))}), "
        f"{len(seeds)} seeds"
    )
    return text + (f", {budget}" if budget else "")
