"""status --json is a stable document; the core never imports the app's toolkit."""

import pkgutil
import subprocess
import sys

import alfred_core
from conftest import alfred, prepare_grid, status

CORE_MODULES = sorted(
    info.name for info in pkgutil.walk_packages(alfred_core.__path__, "alfred_core.")
)


def test_status_document(project, root):
    [name] = prepare_grid(project, root, {"lr": [1, 2]}, seeds=(1, 2))
    alfred("launch", "--root", root, "--max-runs", "1")

    document = status(root)
    assert document["format"] == 1 and document["root"] == str(root)
    assert "runs" not in document and document["launchers"] == []
    [search] = document["searches"]
    assert search["name"] == name and search["total"] == 4
    assert search["alg_name"] == "alg" and search["search_type"] == "grid"
    assert set(search["counts"]) == {
        "UNHATCHED",
        "RUNNING",
        "LOST",
        "COMPLETED",
        "CRASH",
        "KILLED",
        "NOFLAG",
    }
    assert search["counts"]["COMPLETED"] == 1 and search["counts"]["UNHATCHED"] == 3

    detailed = status(root, name)
    assert len(detailed["runs"]) == 4
    run = detailed["runs"][0]
    assert set(run) >= {
        "path",
        "search",
        "experiment",
        "seed",
        "state",
        "owner",
        "started",
        "ended",
        "heartbeat",
        "error",
        "killed_by",
    }
    assert (
        run["state"] == "COMPLETED"
        and run["owner"]["host"]
        and run["ended"] >= run["started"]
    )

    text = alfred("status", "--root", root, name).stdout
    assert name in text and "experiment2/seed2: UNHATCHED" in text


def test_core_modules_never_import_textual():
    for module in CORE_MODULES:
        code = f"import sys, {module}; print('textual' in sys.modules)"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "False", module
