"""Bad input: one line naming the file and the fix, exit code 2, nothing written."""

import os

import pytest

from conftest import alfred, prepare_grid, write_grid

GRID = "ALG_NAMES=['a']\nTASK_NAMES=['t']\nSEEDS=[1]\n"


def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("alfred: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def prepare(project, root, schedule):
    return alfred(
        "prepare",
        schedule,
        "--desc",
        "x",
        "--root",
        root,
        "--project",
        project,
        check=False,
    )


def nothing_written(project, root):
    assert not root.exists()
    assert not list((project / "schedules").glob("list_searches_*"))


@pytest.mark.parametrize(
    "filename, body, fragments",
    [
        ("grid_schedule_a.py", None, ["no such schedule file"]),
        ("my_schedule.py", GRID + "VARIATIONS={'lr':[1]}\n", ["grid_schedule*.py"]),
        ("grid_schedule_b.py", GRID + "VARIATIONS={'lr':[1]\n", ["syntax error"]),
        (
            "grid_schedule_c.py",
            "TASK_NAMES=['t']\nSEEDS=[1]\nVARIATIONS={}\n",
            ["ALG_NAMES"],
        ),
        ("grid_schedule_d.py", GRID, ["must define VARIATIONS"]),
        ("random_schedule_e.py", GRID + "N_EXPERIMENTS=3\n", ["sample_experiment"]),
        (
            "grid_schedule_f.py",
            GRID + "VARIATIONS={'seed':[1,2]}\n",
            ["'seed' may not be varied"],
        ),
        (
            "grid_schedule_g.py",
            GRID + "VARIATIONS={'lr':[1],'lr':[2]}\n",
            ["'lr' twice"],
        ),
        (
            "grid_schedule_h.py",
            GRID + "VARIATIONS={'lrr':[1]}\n",
            ["'lrr' is not an argument"],
        ),
        (
            "grid_schedule_i.py",
            "ALG_NAMES=['a_b']\nTASK_NAMES=['t']\nSEEDS=[1]\nVARIATIONS={'lr':[1]}\n",
            ["without '_'"],
        ),
    ],
)
def test_broken_schedules(project, root, filename, body, fragments):
    schedule = project / "schedules" / filename
    if body is not None:
        schedule.write_text(body)

    line = one_line_error(prepare(project, root, schedule), *fragments)

    assert filename in line
    nothing_written(project, root)


@pytest.mark.parametrize(
    "main_source, fragment",
    [
        (None, "no main.py"),
        ("def get_main_args(x):\n    pass\n", "defines no main"),
        ("def main(config, dir_tree, logger, pbar):\n    pass\n", "defines neither"),
        ("def main(:\n", "syntax error"),
    ],
)
def test_broken_projects(project, root, main_source, fragment):
    schedule = write_grid(project, {"lr": [1]})
    if main_source is None:
        (project / "main.py").unlink()
    else:
        (project / "main.py").write_text(main_source)

    line = one_line_error(prepare(project, root, schedule), fragment)

    assert "main.py" in line
    nothing_written(project, root)


def test_missing_main_py_at_launch(project, root):
    prepare_grid(project, root, {"lr": [1]})
    (project / "main.py").rename(project / "old_main.py")

    one_line_error(
        alfred("launch", "--root", root, check=False), "main.py", "no main.py"
    )
    assert all("UNHATCHED" in os.listdir(r) for r in root.glob("*/experiment*/seed*"))


@pytest.mark.parametrize("name", ["a/b", "..", "../x", ".alfred"])
def test_storage_names_that_leave_the_root(project, root, name):
    prepare_grid(project, root, {"lr": [1]})
    line = one_line_error(alfred("status", name, "--root", root, check=False))
    assert "storage name" in line
    one_line_error(alfred("launch", name, "--root", root, check=False), "storage name")


def test_a_root_that_does_not_exist(tmp_path):
    missing = tmp_path / "nowhere"
    one_line_error(
        alfred("status", "--root", missing, check=False), str(missing), "--root"
    )
    assert not missing.exists()


def test_a_path_outside_the_root(project, root, tmp_path):
    prepare_grid(project, root, {"lr": [1]})
    one_line_error(
        alfred("kill", tmp_path, "--root", root, check=False), "outside the root"
    )


def test_foreign_folders_are_ignored_with_a_warning(project, root):
    [name] = prepare_grid(project, root, {"lr": [1]})
    (root / "my_notes").mkdir()

    result = alfred("status", "--root", root)

    assert name in result.stdout and "my_notes" not in result.stdout
    assert "my_notes is not a search; ignored" in result.stderr


def test_an_unknown_override_for_copy(project, root):
    [name] = prepare_grid(project, root, {"lr": [1]})
    one_line_error(
        alfred(
            "copy", name, "--desc", "c", "--set", "zz=1", "--root", root, check=False
        ),
        "config.json",
        "zz",
    )
    assert len([p for p in root.iterdir() if not p.name.startswith(".")]) == 1
