"""Recorder: the original API, the live JSON-lines stream and its readers."""

import json
import math
import pickle
import subprocess
import sys
import time

import numpy as np

from alfred_core import MetricsReader, Recorder, read_tape
from alfred_core.recorder import stream_path


def test_absent_metrics_get_none_and_values_are_copied(tmp_path):
    recorder = Recorder(["step", "values"], stream_to=tmp_path / "r.jsonl")
    values = [1, 2]
    recorder.write_to_tape({"step": 0, "values": values})
    values.append(3)
    recorder.write_to_tape({"step": 1})

    assert recorder.tape == {"step": [0, 1], "values": [[1, 2], None]}
    reader = MetricsReader(tmp_path / "r.jsonl")
    assert reader.read_new() == [
        {"step": 0, "values": [1, 2]},
        {"step": 1, "values": None},
    ]
    assert reader.tape == recorder.tape


def test_save_and_init_from_pickle_keep_the_tape(tmp_path):
    recorder = Recorder(["a", "b"])
    recorder.write_to_tape({"a": 1.5, "b": np.float32(2.0)})
    path = tmp_path / "recorders" / "train_recorder.pkl"
    recorder.save(path)

    with open(path, "rb") as file:
        assert isinstance(pickle.load(file), dict)
    loaded = Recorder.init_from_pickle_file(path)
    assert loaded.tape == {"a": [1.5], "b": [2.0]}
    assert recorder.stream_to is None


def test_a_run_that_only_pickles_is_still_readable(tmp_path):
    seed_dir = tmp_path / "seed1"
    recorder = Recorder(["epoch", "loss"])
    for epoch in range(3):
        recorder.write_to_tape({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
    recorder.save(seed_dir / "recorders" / "train_recorder.pkl")

    assert read_tape(seed_dir) == {"epoch": [0, 1, 2], "loss": [1.0, 0.5, 1 / 3]}
    assert read_tape(tmp_path / "nothing") == {}


def test_stream_goes_to_the_seed_dir_under_alfred(tmp_path, monkeypatch):
    monkeypatch.setenv("ALFRED_SEED_DIR", str(tmp_path))
    recorder = Recorder(["x"])
    recorder.write_to_tape({"x": np.int64(4)})
    recorder.write_to_tape({"x": float("nan")})

    lines = stream_path(tmp_path).read_text().splitlines()
    assert json.loads(lines[0]) == {"x": 4}
    tape = read_tape(tmp_path)
    assert tape["x"][0] == 4 and math.isnan(tape["x"][1])


def test_reader_ignores_a_torn_last_line_until_it_is_complete(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": ')
    reader = MetricsReader(path)

    assert [row["a"] for row in reader.read_new()] == [1, 2]
    assert reader.read_new() == []
    with open(path, "ab") as file:
        file.write(b"3}\n")
    assert [row["a"] for row in reader.read_new()] == [3]
    assert reader.tape == {"a": [1, 2, 3]}


def test_reader_starts_over_when_the_run_was_reset(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    reader = MetricsReader(path)
    reader.read_new()
    path.write_text('{"a": 9}\n')

    assert reader.read_new() == [{"a": 9}]
    assert reader.tape == {"a": [9]}


def test_reader_handles_metrics_that_appear_later_and_bad_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 2, "b": 5}\n')
    reader = MetricsReader(path)
    reader.read_new()

    assert reader.tape == {"a": [1, 2], "b": [None, 5]}


WRITER = """
import sys, time
from alfred_core import Recorder
recorder = Recorder(["step", "value"], stream_to=sys.argv[1])
for step in range(int(sys.argv[2])):
    recorder.write_to_tape({"step": step, "value": step * 0.5})
    if step % 50 == 0:
        time.sleep(0.002)
"""


def test_a_reader_following_a_live_file_sees_every_point_exactly_once(tmp_path):
    path = tmp_path / "recorders" / "train_recorder.jsonl"
    total = 3000
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(total)])
    reader = MetricsReader(path)
    seen, reads = [], 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        finished = writer.poll() is not None
        rows = reader.read_new()
        reads += bool(rows)
        seen.extend(row["step"] for row in rows)
        if finished and not rows:
            break
        time.sleep(0.001)

    assert writer.wait() == 0
    assert seen == list(range(total))
    assert reader.tape["value"] == [step * 0.5 for step in range(total)]
    assert reads > 1  # it did follow the file while it grew
