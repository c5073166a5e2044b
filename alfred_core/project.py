"""The user's project: `main.py` with its args and `main`, and its git state."""

from __future__ import annotations

import argparse
import ast
import getpass
import importlib.util
import inspect
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType

from alfred_core.errors import ProjectError

logger = logging.getLogger(__name__)

ARGS_FUNCTIONS = ("get_main_args", "get_run_args")
RESERVED_KEYS = ("alg_name", "task_name", "seed", "desc")


def check_main_file(project_dir: Path) -> Path:
    """Check, without running it, that main.py defines what alfred calls."""
    main_file = Path(project_dir) / "main.py"
    if not main_file.is_file():
        raise ProjectError(
            f"{main_file}: no main.py; run from your project folder or pass --project DIR"
        )
    try:
        tree = ast.parse(main_file.read_text(), filename=str(main_file))
    except SyntaxError as error:
        raise ProjectError(
            f"{main_file}:{error.lineno}: syntax error ({error.msg}); fix it and retry"
        ) from None

    defined = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    defined |= {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    if "main" not in defined:
        raise ProjectError(
            f"{main_file}: defines no main(config, dir_tree, logger, pbar)"
        )
    if not defined & set(ARGS_FUNCTIONS):
        raise ProjectError(
            f"{main_file}: defines neither get_main_args(overwritten_cmd_line) "
            "nor get_run_args(overwritten_cmd_line)"
        )
    return main_file


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a Python file under a module name."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def args_function(module: ModuleType):
    for name in ARGS_FUNCTIONS:
        function = getattr(module, name, None)
        if callable(function):
            return function
    return None


def default_args(function, source: Path) -> argparse.Namespace:
    """Call the project's args function with no overrides."""
    # An empty string suits both conventions: parse_args(s) and parse_args(s.split()).
    try:
        namespace = function("")
    except SystemExit as error:
        raise ProjectError(
            f"{source}: {function.__name__}('') exited ({error}); it must parse an "
            "empty command line"
        ) from None
    if not isinstance(namespace, argparse.Namespace):
        raise ProjectError(
            f"{source}: {function.__name__}() must return an argparse.Namespace"
        )
    return namespace


@dataclass
class Project:
    """A loaded project: its module, its args function and its settings."""

    path: Path
    module: ModuleType
    settings: dict = field(default_factory=dict)

    @property
    def main_file(self) -> Path:
        return self.path / "main.py"

    def default_args(self) -> argparse.Namespace:
        return default_args(args_function(self.module), self.main_file)

    @cached_property
    def main_takes_pbar(self) -> bool:
        parameters = inspect.signature(self.module.main).parameters
        return (
            "pbar" in parameters
            or len(parameters) >= 4
            or any(p.kind is p.VAR_POSITIONAL for p in parameters.values())
        )

    def run_main(self, config, dir_tree, run_logger, pbar) -> None:
        """Call `main`, with `pbar` only where the project's main takes it."""
        if self.main_takes_pbar:
            self.module.main(config, dir_tree, run_logger, pbar)
        else:
            self.module.main(config, dir_tree, run_logger)


def load_project(project_dir: Path | str) -> Project:
    """Import the project's main.py once, with its folder on sys.path."""
    project_dir = Path(project_dir).expanduser().resolve()
    main_file = check_main_file(project_dir)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))

    try:
        module = import_file(main_file, "main")
    except Exception as error:
        raise ProjectError(
            f"{main_file}: importing it failed ({type(error).__name__}: {error})"
        ) from None

    settings = {}
    set_up = getattr(module, "set_up_alfred", None)
    if callable(set_up):
        returned = set_up()
        settings = dict(returned) if isinstance(returned, dict) else {}
    return Project(project_dir, module, settings)


def git_hash(path: Path) -> str:
    """The short commit hash of the repository at `path`, or `nogit`."""
    try:
        result = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short=7", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "nogit"
    return result.stdout.strip() if result.returncode == 0 else "nogit"


def git_hashes(project_dir: Path, settings: dict | None = None) -> str:
    """Hashes of the tracked repositories (the project's own by default), joined by -."""
    repos = (settings or {}).get("git_repos") or [project_dir]
    if isinstance(repos, dict):
        repos = list(repos.values())
    return "-".join(git_hash(Path(repo).expanduser()) for repo in repos)


def user_prefix() -> str:
    """The first two letters of the git user name (or the login), capitalised."""
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        name = ""
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "xx"
    letters = "".join(ch for ch in name if ch.isalpha())[:2] or "xx"
    return letters.capitalize()
