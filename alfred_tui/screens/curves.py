"""The Curves view: curves of a run, of an experiment, or of a search's best."""

from __future__ import annotations

import math
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from alfred_core.flags import State, run_status
from alfred_core.recorder import MetricsReader, read_tape, stream_path
from alfred_core.tree import RunDir, Search, runs_of_experiment
from alfred_tui.screens.base import Selection, View

MODES = ("run", "experiment", "best")
MODE_TITLES = {
    "run": "run",
    "experiment": "experiment (mean and band over seeds)",
    "best": "best experiments (mean over seeds)",
}
COLORS = ("cyan", "green", "yellow", "magenta", "red", "blue")
BEST_SHOWN = 5
MIN_INTERVAL = 0.5
BEST_INTERVAL = 2.0  # the best experiments read every run of the search


class CurvesScreen(View):
    """m / M: next or previous metric; v: run, experiment or best experiments."""

    BINDINGS = [
        Binding("m", "metric(1)", "Metric", tooltip="Show the next metric"),
        Binding("M", "metric(-1)", "Previous metric", show=False),
        Binding(
            "v",
            "mode",
            "Run/exp/best",
            tooltip="Curves of the run, its experiment, or the best experiments",
        ),
    ]

    class CurvesRead(Message):
        def __init__(
            self,
            series: list[dict],
            note: str,
            metrics: list[str],
            x: str | None,
            request: int,
        ) -> None:
            super().__init__()
            self.request = request
            self.series = series
            self.note = note
            self.metrics = metrics
            self.x = x

    def __init__(
        self, search: Search, run: RunDir | None = None, mode: str | None = None
    ) -> None:
        super().__init__()
        self.search = search
        self.run = run
        self.mode = mode or ("run" if run else "best")
        self.metrics: list[str] = []
        self.metric: str | None = None
        self.x_metric: str | None = None
        self.defaults: dict = {}
        self.reader = MetricsReader(stream_path(run.path)) if run else None
        self.last_read = 0.0
        self.read_pending = False
        self.request = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="topbar")
        yield PlotextPlot(id="plot")
        yield Static("", id="curves-note", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.update_title()
        self.read_curves()

    def update_title(self) -> None:
        target = (
            self.run.name
            if self.mode == "run" and self.run
            else (
                f"{self.search.name} experiment{self.run.experiment_num}"
                if self.mode == "experiment" and self.run
                else self.search.name
            )
        )
        self.query_one("#topbar", Static).update(
            f"curves of {MODE_TITLES[self.mode]} · {target} · "
            f"{self.metric or '…'} vs {self.x_metric or 'step'}"
        )

    def read_curves(self) -> None:
        """Read the curves again; what an earlier read still brings is ignored."""
        self.request += 1
        self.read_curves_for(self.request)

    @work(
        thread=True,
        exclusive=True,
        group="curves",
        exit_on_error=False,
        description="reading curves",
    )
    def read_curves_for(self, request: int) -> None:
        from alfred_core.results import data

        if not self.defaults:
            self.defaults = data.metric_defaults(self.search)
        runs = [self.run] if self.run else self.search.runs()
        metrics = data.recorded_metrics(runs[:50]) if not self.metrics else self.metrics
        x = self.defaults.get("x_metric")
        y = (
            self.metric
            or self.defaults.get("y_metric")
            or next((name for name in metrics if name != x), None)
        )
        if y is None:
            self.post_message(
                self.CurvesRead([], "no metric recorded yet", metrics, x, request)
            )
            return

        if self.mode == "run":
            self.reader.read_new()
            tape = self.reader.tape
            xs, ys = (
                data.curve_of(tape, x, y)
                if x in tape
                else data.curve_of(
                    {**tape, "_step": list(range(len(tape.get(y, []))))}, "_step", y
                )
            )
            series = [{"label": self.run.name, "x": xs.tolist(), "y": ys.tolist()}]
            note = f"{len(xs)} points"
        else:
            if self.mode == "experiment":  # read only this experiment's runs
                source = experiment_data(self.search, self.run.experiment_dir)
            else:
                source = data.load_search(self.search)  # read once, used twice
            curves = data.experiment_curves(source, x, y)
            if self.mode == "experiment":
                curves = [c for c in curves if c.experiment == self.run.experiment_num]
                note = ""
            else:
                aggregate = self.defaults.get("aggregate") or "last"
                score = self.defaults.get("score_metric") or y
                ranked = data.rank_experiments(
                    source, score, aggregate, self.defaults.get("maximize")
                )
                best = [s.experiment for s in ranked if not s.is_nan][:BEST_SHOWN]
                by_number = {curve.experiment: curve for curve in curves}
                curves = [by_number[n] for n in best if n in by_number]
                note = " · ".join(
                    f"#{i + 1} experiment{s.experiment} {s.label}: {s.score:.4g}"
                    for i, s in enumerate(s for s in ranked if s.experiment in best)
                )
                note = (
                    f"ranked by {aggregate} of {score}: {note}"
                    if note
                    else "no experiment has a score yet"
                )
            series = []
            for curve in curves:
                label = f"experiment{curve.experiment} ({curve.n_seeds} seeds)"
                series.append(
                    {
                        "label": label,
                        "x": curve.x.tolist(),
                        "y": curve.mean.tolist(),
                        "low": curve.low.tolist(),
                        "high": curve.high.tolist(),
                    }
                )
        self.post_message(self.CurvesRead(series, note, metrics, x, request))

    def on_curves_screen_curves_read(self, message: CurvesRead) -> None:
        if message.request != self.request:
            return
        self.metrics = message.metrics
        self.x_metric = message.x
        if self.metric is None and message.series:
            self.metric = self.defaults.get("y_metric") or next(
                (m for m in self.metrics if m != message.x), None
            )
        self.update_title()
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        for index, series in enumerate(message.series):
            color = COLORS[index % len(COLORS)]
            x, y = finite(series["x"], series["y"])
            if not x:
                continue
            for side in ("low", "high"):
                if side in series:
                    bx, by = finite(series["x"], series[side])
                    if bx:
                        plt.plot(bx, by, color="gray", marker="dot")
            plt.plot(x, y, label=series["label"], color=color, marker="hd")
        plt.xlabel(self.x_metric or "step")
        plt.ylabel(self.metric or "")
        plot.refresh()
        note = message.note or (
            "no curve yet: the runs have recorded nothing" if not message.series else ""
        )
        metrics = ", ".join(
            f"{m} (shown)" if m == self.metric else m
            for m in self.metrics
            if m != self.x_metric
        )
        self.query_one("#curves-note", Static).update(
            f"metrics: {metrics}" + (f"\n{note}" if note else "")
        )

    def model_changed(self, changes) -> None:
        prefix = (
            str(self.run.path)
            if self.mode == "run" and self.run
            else (
                str(self.run.experiment_dir)
                if self.mode == "experiment" and self.run
                else str(self.search.path)
            )
        )
        touched = changes.activity | changes.states
        if any(path.startswith(prefix) for path in touched):
            self.read_soon()

    def read_soon(self) -> None:
        """Read the curves again, at most once an interval, whatever changes."""
        if self.read_pending:
            return
        interval = BEST_INTERVAL if self.mode == "best" else MIN_INTERVAL
        delay = max(0.01, self.last_read + interval - time.monotonic())
        self.read_pending = True
        self.set_timer(delay, self.timed_read)

    def timed_read(self) -> None:
        self.read_pending = False
        self.last_read = time.monotonic()
        self.read_curves()

    def followed_runs(self) -> set[str]:
        return {str(self.run.path)} if self.run and self.mode == "run" else set()

    def selection(self) -> Selection:
        return Selection([self.search], self.run)

    def action_metric(self, step: int) -> None:
        choices = [m for m in self.metrics if m != self.x_metric]
        if not choices:
            return
        index = choices.index(self.metric) if self.metric in choices else -1
        self.metric = choices[(index + step) % len(choices)]
        self.update_title()
        self.read_curves()

    def action_mode(self) -> None:
        modes = MODES if self.run else ("best",)
        self.mode = modes[(modes.index(self.mode) + 1) % len(modes)]
        if self.mode == "run":
            self.reader = MetricsReader(stream_path(self.run.path))
        self.update_title()
        self.read_curves()


def experiment_data(search: Search, experiment_dir):
    """The runs of one experiment with their tapes, as the results module takes them."""
    from alfred_core.results.data import RunData, SearchData

    runs = []
    for run in runs_of_experiment(experiment_dir):
        state = run_status(run).state
        tape = read_tape(run.path) if state is not State.UNHATCHED else {}
        runs.append(RunData(run, state, tape))
    return SearchData(search, runs)


def finite(xs: list, ys: list) -> tuple[list, list]:
    pairs = [
        (x, y)
        for x, y in zip(xs, ys)
        if isinstance(y, (int, float))
        and isinstance(x, (int, float))
        and math.isfinite(y)
        and math.isfinite(x)
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]
