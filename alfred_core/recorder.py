"""`Recorder`: a run's metrics as a dict of lists, streamed to a file as they come."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
from pathlib import Path

logger = logging.getLogger(__name__)

STREAM_SUFFIX = "_recorder.jsonl"
PICKLE_SUFFIX = "_recorder.pkl"


def _plain(value):
    """A JSON value for numbers of numpy and friends.

    NaN and infinities are kept (Python's json writes and reads them), so a run that
    diverged reads back as NaN, not as a missing value.
    """
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (TypeError, ValueError):
            value = value.tolist()
    return value


def _json_default(value):
    plain = _plain(value)
    if plain is value:
        return str(value)
    return plain


def stream_path(seed_dir: Path, name: str = "train") -> Path:
    return Path(seed_dir) / "recorders" / f"{name}{STREAM_SUFFIX}"


class Recorder:
    """Records metrics; each `write_to_tape` is also appended at once to a JSON-lines file.

    Under alfred the stream goes to `seed_dir/recorders/<name>_recorder.jsonl`, so the
    app and `alfred summarize` see a running run's curves before `save` is called.
    """

    def __init__(
        self,
        metrics_to_record,
        stream_to: Path | str | None = None,
        name: str = "train",
    ):
        self.tape = {metric: [] for metric in metrics_to_record}
        if stream_to is None and os.environ.get("ALFRED_SEED_DIR"):
            stream_to = stream_path(Path(os.environ["ALFRED_SEED_DIR"]), name)
        self.stream_to = Path(stream_to) if stream_to is not None else None
        self._stream = None

    def write_to_tape(self, new_values_dict: dict) -> None:
        """Append one value per metric; absent metrics get None, values are copied."""
        row = {}
        for metric, values in self.tape.items():
            value = copy.deepcopy(new_values_dict.get(metric))
            values.append(value)
            row[metric] = value
        if self.stream_to is not None:
            self._write_line(row)

    def _write_line(self, row: dict) -> None:
        if self._stream is None:
            self.stream_to.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.stream_to, "a")
        line = json.dumps({k: _plain(v) for k, v in row.items()}, default=_json_default)
        self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def save(self, filename: Path | str) -> None:
        """Pickle the tape (a dict of lists), as the original tools did."""
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        with open(filename, "wb") as file:
            pickle.dump(self.tape, file)
        if self._stream is not None:
            self._stream.flush()

    @classmethod
    def init_from_pickle_file(cls, filename: Path | str) -> "Recorder":
        with open(filename, "rb") as file:
            loaded = pickle.load(file)
        tape = loaded.tape if isinstance(loaded, Recorder) else loaded
        recorder = cls(list(tape))
        recorder.tape = {metric: list(values) for metric, values in tape.items()}
        return recorder

    def __getstate__(self):
        return {"tape": self.tape, "stream_to": self.stream_to, "_stream": None}

    def __del__(self):
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.close()


class MetricsReader:
    """Follows a metrics stream from where it stopped; a torn last line waits."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.offset = 0
        self.tape: dict[str, list] = {}
        self.rows = 0

    def read_new(self) -> list[dict]:
        """Rows appended since the last call (each row is returned exactly once)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # the run was reset and started over
            self.offset, self.tape, self.rows = 0, {}, 0
        if size == self.offset:
            return []

        with open(self.path, "rb") as file:
            file.seek(self.offset)
            chunk = file.read(size - self.offset)
        complete = chunk.rfind(b"\n") + 1
        rows = self._parse(chunk[:complete])
        self.offset += complete
        self._extend(rows)
        return rows

    def _parse(self, lines: bytes) -> list[dict]:
        """Rows of complete lines: all at once as one JSON array, else line by line."""
        if not lines.strip():
            return []
        try:
            rows = json.loads(b"[" + lines.rstrip(b"\n").replace(b"\n", b",") + b"]")
        except ValueError:
            rows = []
            for line in lines.splitlines():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    logger.warning("%s: skipped an unreadable line", self.path)
        return [row for row in rows if isinstance(row, dict)]

    def _extend(self, rows: list[dict]) -> None:
        if not rows:
            return
        metrics = list(rows[0])
        count = len(metrics)
        same_keys = not self.tape or self.tape.keys() == set(metrics)
        if same_keys and all(len(row) == count for row in rows):
            try:  # every row has exactly the same metrics: build whole columns
                columns = {metric: [row[metric] for row in rows] for metric in metrics}
            except KeyError:
                columns = None
            if columns is not None:
                for metric, values in columns.items():
                    self.tape.setdefault(metric, [None] * self.rows).extend(values)
                self.rows += len(rows)
                return

        for row in rows:
            for metric in row.keys() - self.tape.keys():
                self.tape[metric] = [None] * self.rows
            for metric, values in self.tape.items():
                values.append(row.get(metric))
            self.rows += 1


def read_tape(seed_dir: Path | str, name: str = "train") -> dict[str, list]:
    """A run's tape: from its stream when there is one, else from its pickle."""
    seed_dir = Path(seed_dir)
    stream = stream_path(seed_dir, name)
    if stream.exists():
        reader = MetricsReader(stream)
        reader.read_new()
        return reader.tape
    pickled = seed_dir / "recorders" / f"{name}{PICKLE_SUFFIX}"
    if pickled.exists():
        return Recorder.init_from_pickle_file(pickled).tape
    return {}
