"""`AlfredApp`: the views over a root, kept live, and actions through the core."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable

from textual import work
from textual.worker import get_current_worker
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from alfred_core.errors import AlfredError
from alfred_core.flags import State
from alfred_core.launchers import live_launchers
from alfred_core.tree import Root, RunDir, Search
from alfred_tui.commands import AlfredCommands
from alfred_tui.messages import (
    ActionDone,
    CleanPlanned,
    FilesChanged,
    LaunchersRead,
    RunStatesRead,
    ScanFinished,
    SearchesListed,
    SearchScanned,
    WatchStarted,
)
from alfred_tui.model import (
    LISTING_THREADS,
    Changes,
    SearchState,
    classify,
    read_run_state,
    run_label,
    scan_search,
)
from alfred_tui.screens.base import View
from alfred_tui.screens.dialogs import (
    ConfirmScreen,
    InfoScreen,
    KillScreen,
    LaunchRequest,
    LaunchScreen,
    PrepareScreen,
    RetrainScreen,
)
from alfred_tui.screens.help import HelpScreen
from alfred_tui.screens.searches import SearchesScreen
from alfred_tui.watcher import Poller, RootWatcher, is_remote

LIVENESS_INTERVAL = 5.0
LIVE_READS_KEPT = 600.0  # seconds: longer than any scan of the root takes
VIEW_FLUSH_DELAY = 0.01


def launch_command(root: Path, names: list[str], request: LaunchRequest) -> list[str]:
    """`alfred launch` of these searches: detached locally, or a Slurm job array."""
    command = [sys.executable, "-m", "alfred_core.cli", "launch", *names]
    command += ["--root", str(root), "-p", str(request.workers)]
    if request.executor != "slurm":
        return (
            command + ["--detach"] + (["--gpus", request.gpus] if request.gpus else [])
        )
    command += ["--executor", "slurm"]
    for option, value in (
        ("--partition", request.partition),
        ("--time", request.time),
        ("--gres", request.gres),
    ):
        if value:
            command += [option, value]
    return command


class AlfredApp(App):
    """Searches, runs, logs and curves of one root; quitting stops no run."""

    CSS_PATH = "app.tcss"
    TITLE = "alfred"
    COMMANDS = App.COMMANDS | {AlfredCommands}
    ACTION_BINDINGS = [
        Binding(
            "p",
            "prepare",
            "Prepare",
            show=False,
            tooltip="Prepare a search from a schedule file (dry run first)",
        ),
        Binding(
            "l",
            "launch",
            "Launch",
            tooltip="Launch the selected search(es), detached from this app",
        ),
        Binding(
            "x",
            "kill",
            "Kill",
            tooltip="Kill the selected run, experiment or search (asks first)",
        ),
        Binding(
            "c",
            "clean(False)",
            "Clean",
            tooltip="Clean: put interrupted runs back to UNHATCHED (asks first)",
        ),
        Binding(
            "C",
            "clean(True)",
            "Clean all",
            show=False,
            tooltip="Clean interrupted, crashed and killed runs (asks first)",
        ),
        Binding(
            "r",
            "retrain",
            "Retrain",
            show=False,
            tooltip="Retrain the best configuration with more seeds",
        ),
        Binding(
            "e",
            "export",
            "Export",
            show=False,
            tooltip="Export plot arrays and summary figures (PNG)",
        ),
        Binding(
            "g",
            "curves",
            "Curves",
            tooltip="Learning curves of the selected run, experiment or search",
        ),
    ]
    APP_BINDINGS = [
        Binding("question_mark", "help", "Help", tooltip="Every key"),
        Binding(
            "escape", "back", "Back", show=False, tooltip="Back to the previous view"
        ),
        Binding("q", "quit", "Quit", tooltip="Quit (runs keep going)"),
    ]
    BINDINGS = ACTION_BINDINGS + APP_BINDINGS

    def __init__(
        self,
        root: Path | str,
        project_dir: Path | str | None = None,
        poll: bool = False,
        watch: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root).expanduser().absolute()
        self.project_arg = (
            Path(project_dir).expanduser().absolute() if project_dir else None
        )
        self.poll = poll
        self.watch_files = watch
        self.now = clock or time.time
        self.searches: dict[str, SearchState] = {}
        self.launchers: list[dict] = []
        self.watch_mode = "starting" if watch else "not watching"
        self.scan_complete = False
        self.watching = False
        self.watcher: RootWatcher | None = None
        self.poller: Poller | None = None
        self.pending = Changes()
        self.flush_scheduled = False
        self.live_reads: dict[str, float] = {}  # run -> when a live update read it
        self.slurm_available = shutil.which("sbatch") is not None
        self.cursor_blink = watch

    # --- the model of the root --------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(SearchesScreen())
        self.scan_root()
        if self.watch_files:
            self.set_interval(LIVENESS_INTERVAL, self.check_liveness)
            self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        """Elapsed times and ETAs of searches with running runs move on."""
        if any(state.tally[State.RUNNING] for state in self.searches.values()):
            self.views_changed(Changes())
        old = time.monotonic() - LIVE_READS_KEPT
        self.live_reads = {p: t for p, t in self.live_reads.items() if t > old}

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.poller is not None:
            self.poller.stop()

    @work(
        thread=True,
        exclusive=True,
        group="scan",
        exit_on_error=False,
        description="scanning the root",
    )
    def scan_root(self) -> None:
        worker = get_current_worker()
        root = Root(self.root)
        searches = root.searches(warn_foreign=False)
        for search in searches:
            search.info  # read search.json here, not while drawing
        self.post_message(SearchesListed(searches))
        self.post_message(LaunchersRead(live_launchers(root)))
        with ThreadPoolExecutor(LISTING_THREADS) as pool:
            for times in (False, True):  # counts first, then when runs started, ended
                for search in searches:
                    if worker.is_cancelled:
                        return
                    started = time.monotonic()
                    state = scan_search(search, times=times, pool=pool)
                    self.post_message(SearchScanned(state, started))
                if not times:
                    self.post_message(ScanFinished())

    @work(thread=True, group="rescan", exit_on_error=False, description="scanning")
    def rescan_searches(self, names: list[str]) -> None:
        for name in names:
            path = self.root / name
            if path.is_dir():
                started = time.monotonic()
                self.post_message(SearchScanned(scan_search(Search(path)), started))

    @work(thread=True, group="states", exit_on_error=False, description="reading flags")
    def read_states(self, paths: list[str]) -> None:
        read_at = time.monotonic()
        states = {path: read_run_state(path) for path in paths}
        self.post_message(RunStatesRead(states, read_at))

    @work(thread=True, exclusive=True, group="liveness", exit_on_error=False)
    def check_liveness(self) -> None:
        running = [
            path
            for state in list(self.searches.values())
            for path in state.running_paths()
        ]
        if running:
            read_at = time.monotonic()
            states = {path: read_run_state(path) for path in running}
            self.post_message(RunStatesRead(states, read_at))
        self.post_message(LaunchersRead(live_launchers(Root(self.root))))

    def on_searches_listed(self, message: SearchesListed) -> None:
        known = self.searches
        self.searches = {
            search.name: known.get(search.name) or SearchState(search)
            for search in message.searches
        }
        self.views_changed(Changes(root=True))

    def on_search_scanned(self, message: SearchScanned) -> None:
        scanned = message.state
        known = self.searches.get(scanned.name)
        prefix = str(scanned.search.path) + os.sep
        fresher = {
            path
            for path, read_at in self.live_reads.items()
            if read_at > message.started and path.startswith(prefix)
        }
        if known is not None and known.timed and not scanned.timed:
            known.scanned = True  # a rescan without times: keep the times we have
            for path in known.states.keys() - scanned.states.keys() - fresher:
                known.apply(path, None, None)
            for path, run_state in scanned.states.items():
                if path not in fresher:
                    known.apply(path, run_state, None)
            scanned = known
        elif known is not None:
            for path in fresher:  # read after the scan began: newer than the scan
                scanned.apply(path, known.states.get(path), None)
        self.searches[scanned.name] = scanned
        if list(self.searches) != sorted(self.searches):
            self.searches = dict(sorted(self.searches.items()))
        self.views_changed(Changes(searches={scanned.name}))

    def on_scan_finished(self) -> None:
        first = not self.scan_complete
        self.scan_complete = True
        if first and self.watch_files:
            self.start_watching()
        self.views_changed(Changes())

    def on_run_states_read(self, message: RunStatesRead) -> None:
        changed = set()
        for path in message.states:
            self.live_reads[path] = message.read_at
        for path, (state, mtime) in message.states.items():
            name = Path(path).parent.parent.name
            search_state = self.searches.get(name)
            if search_state is not None and search_state.apply(path, state, mtime):
                changed.add(path)
        self.views_changed(Changes(states=changed))

    def on_launchers_read(self, message: LaunchersRead) -> None:
        if message.launchers != self.launchers:
            self.launchers = message.launchers
            self.views_changed(Changes(launchers=True))

    def launchers_of(self, name: str) -> str:
        mine = [item for item in self.launchers if name in item.get("searches", [])]
        return ", ".join(f"{item.get('id')} ({item.get('workers')}w)" for item in mine)

    def views_changed(self, changes: Changes) -> None:
        """Merge changes and tell the views once, right after this burst of messages."""
        pending = self.pending
        pending.root |= changes.root
        pending.launchers |= changes.launchers
        pending.searches |= changes.searches
        pending.states |= changes.states
        pending.activity |= changes.activity
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.call_later(self.flush_views)

    def flush_views(self) -> None:
        changes, self.pending, self.flush_scheduled = self.pending, Changes(), False
        if not self.is_running:
            return  # shutting down: the screens are being taken apart
        followed = set()
        for screen in self.screen_stack:
            if isinstance(screen, View) and screen.is_mounted:
                screen.model_changed(changes)
                followed |= screen.followed_runs()
        if self.poller is not None:
            self.poller.follow(followed)

    # --- following the file system ----------------------------------------------------

    def start_watching(self) -> None:
        if self.poll:
            self.start_polling("--poll")
        elif is_remote(self.root):
            self.start_polling("network file system")
        else:
            self.start_inotify()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def start_inotify(self) -> None:
        watcher = RootWatcher(self.root, self.report_paths)
        try:
            watcher.start()
        except OSError as error:
            self.post_message(
                WatchStarted("polling", f"inotify: {error.strerror or error}")
            )
            return
        self.watcher = watcher
        self.post_message(WatchStarted("inotify"))

    def report_paths(self, paths: set[str]) -> None:
        """Called from the watcher's threads."""
        self.post_message(FilesChanged(paths))

    def start_polling(self, reason: str) -> None:
        self.post_message(WatchStarted("polling", reason))

    def on_watch_started(self, message: WatchStarted) -> None:
        if message.mode == "polling" and self.poller is None:
            self.poller = Poller(self.root, self.report_paths)
            self.run_poller()
            self.watch_mode = f"polling ({message.reason})"
            if message.reason.startswith("inotify"):
                self.notify(
                    f"{message.reason}; polling the root instead",
                    title="Live updates",
                    severity="warning",
                )
        elif message.mode == "inotify":
            self.watch_mode = "live (inotify)"
        self.watching = True
        self.scan_root()  # catch what changed while the watches were being set up

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def run_poller(self) -> None:
        self.poller.run()

    def on_files_changed(self, message: FilesChanged) -> None:
        changes = classify(self.root, message.paths)
        if changes.root:
            self.scan_root()
        if changes.searches:
            self.rescan_searches(sorted(changes.searches))
        if changes.states:
            self.read_states(sorted(changes.states))
        if changes.launchers:
            self.check_launchers()
        if changes.activity:
            self.views_changed(Changes(activity=changes.activity))

    @work(thread=True, exclusive=True, group="launchers", exit_on_error=False)
    def check_launchers(self) -> None:
        self.post_message(LaunchersRead(live_launchers(Root(self.root))))

    # --- failures and results ---------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        what = event.worker.description or event.worker.name or "a task"
        text = (
            str(error)
            if isinstance(error, AlfredError)
            else f"{type(error).__name__}: {error}"
        )
        self.notify(text, title=f"Failed: {what}", severity="error", timeout=10)

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.text, title=message.title, timeout=8)
        if message.paths:
            listing = "\n".join(str(path) for path in message.paths)
            self.push_screen(
                InfoScreen(f"{message.title}: {len(message.paths)} files", listing)
            )
        if message.rescan:
            self.scan_root()

    # --- views and navigation ---------------------------------------------------------

    def current_view(self) -> View | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, View):
                return screen
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return len(self.screen_stack) > 2 or not isinstance(self.screen, View)
        return True

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.current_view()))

    def selected_searches(self) -> list[Search]:
        view = self.current_view()
        searches = view.selection().searches if view else []
        if not searches:
            self.notify("no search selected", severity="warning")
        return searches

    def action_curves(self) -> None:
        from alfred_tui.screens.curves import CurvesScreen

        view = self.current_view()
        if isinstance(view, CurvesScreen):
            return
        selection = view.selection() if view else None
        if not selection or not selection.searches:
            self.notify("no search selected", severity="warning")
            return
        mode = "run" if selection.run else "best"
        self.push_screen(CurvesScreen(selection.searches[0], selection.run, mode))

    # --- actions: each goes through alfred_core, in a worker --------------------------

    def project_dir(self) -> Path:
        if self.project_arg is not None:
            return self.project_arg
        for state in self.searches.values():
            if state.search.project_dir is not None:
                return state.search.project_dir
        return Path.cwd()

    def action_prepare(self) -> None:
        self.push_screen(
            PrepareScreen(self.project_dir(), self.root), self.prepare_chosen
        )

    def prepare_chosen(self, plan) -> None:
        if plan is not None:
            self.execute_prepare(plan)

    @work(thread=True, exit_on_error=False, description="prepare")
    def execute_prepare(self, plan) -> None:
        from alfred_core.prepare import execute_plan

        searches = execute_plan(plan)
        self.post_message(
            ActionDone(
                "Prepared",
                f"{plan.run_count} runs in {len(searches)} searches: "
                + ", ".join(search.name for search in searches),
            )
        )

    def action_launch(self) -> None:
        names = [search.name for search in self.selected_searches()]
        if names:
            self.push_screen(
                LaunchScreen(names, self.slurm_available),
                partial(self.launch_chosen, names),
            )

    def launch_chosen(self, names: list[str], request: LaunchRequest | None) -> None:
        if request is not None:
            self.launch(names, request)

    @work(thread=True, exit_on_error=False, description="launch")
    def launch(self, names: list[str], request: LaunchRequest) -> None:
        command = launch_command(self.root, names, request)
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=self.project_dir(),
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise AlfredError(lines[-1] if lines else f"exit code {result.returncode}")
        first = result.stdout.strip().splitlines()
        self.post_message(
            ActionDone(
                "Launched",
                f"{len(names)} search(es), {request.workers} workers"
                + (f": {first[0]}" if first else ""),
                rescan=False,
            )
        )

    def action_kill(self) -> None:
        from alfred_tui.screens.runs import RunsScreen

        view = self.current_view()
        selection = view.selection() if view else None
        if selection is None or not selection.searches:
            self.notify("nothing selected", severity="warning")
            return
        if selection.run is not None and isinstance(view, RunsScreen):
            run = selection.run
            experiment = str(run.experiment_dir)
            self.push_screen(
                KillScreen(
                    f"{run_label(str(run.path))} "
                    f"({self.describe_states([str(run.path)])})",
                    f"experiment{run.experiment_num}: "
                    + self.describe_states(self.paths_under(experiment)),
                ),
                partial(self.kill_chosen, run),
            )
            return
        if selection.run is not None:
            run = selection.run
            self.push_screen(
                ConfirmScreen(
                    "Kill this run?",
                    f"{run.name}\n{self.describe_states([str(run.path)])}",
                    "Kill",
                ),
                lambda yes: yes and self.kill([str(run.path)], run.name),
            )
            return
        names = [search.name for search in selection.searches]
        paths = (
            [path for name in names for path in self.searches[name].states]
            if names
            else []
        )
        self.push_screen(
            ConfirmScreen(
                f"Kill {len(names)} search(es)?",
                "\n".join(names[:5]) + f"\n{self.describe_states(paths)}\n"
                "Running runs are stopped, unstarted ones are marked KILLED.",
                "Kill",
            ),
            lambda yes: yes and self.kill(paths, ", ".join(names)),
        )

    def kill_chosen(self, run: RunDir, what: str | None) -> None:
        if what == "run":
            self.kill([str(run.path)], run.name)
        elif what == "experiment":
            self.kill(
                self.paths_under(str(run.experiment_dir)),
                f"experiment{run.experiment_num}",
            )

    def paths_under(self, folder: str) -> list[str]:
        name = Path(folder).parent.name
        state = self.searches.get(name)
        prefix = folder + os.sep
        return [
            path for path in (state.states if state else {}) if path.startswith(prefix)
        ]

    def describe_states(self, paths: list[str]) -> str:
        counts: dict[State, int] = {}
        for path in paths:
            state = self.searches.get(Path(path).parent.parent.name)
            run_state = state.states.get(path) if state else None
            if run_state is not None:
                counts[run_state] = counts.get(run_state, 0) + 1
        killable = [
            (counts.get(state, 0), label)
            for state, label in (
                (State.RUNNING, "running"),
                (State.UNHATCHED, "unstarted"),
                (State.LOST, "lost"),
            )
        ]
        rest = sum(counts.values()) - sum(count for count, _ in killable)
        kills = ", ".join(f"{count} {label}" for count, label in killable if count)
        text = f"kills {kills}" if kills else "nothing to kill"
        return text + (f"; {rest} finished left as they are" if rest else "")

    @work(thread=True, exit_on_error=False, description="kill")
    def kill(self, paths: list[str], what: str) -> None:
        from alfred_core.kill import kill_runs

        report = kill_runs([RunDir(path) for path in paths], wait=10.0)
        self.post_message(ActionDone(f"Killed {what}", report.describe(), rescan=False))

    def action_clean(self, crashes: bool) -> None:
        searches = self.selected_searches()
        if searches:
            self.plan_clean(searches, crashes)

    @work(
        thread=True,
        exclusive=True,
        group="clean",
        exit_on_error=False,
        description="clean",
    )
    def plan_clean(self, searches: list[Search], crashes: bool) -> None:
        from alfred_core.clean import plan_clean

        plan = plan_clean(searches, crashes=crashes)
        self.post_message(CleanPlanned(plan, crashes, [s.name for s in searches]))

    def on_clean_planned(self, message: CleanPlanned) -> None:
        plan = message.plan
        if not plan.resets:
            self.notify(plan.describe(), title="Clean")
            return
        what = "interrupted, crashed and killed" if message.crashes else "interrupted"
        self.push_screen(
            ConfirmScreen(
                f"Clean {what} runs of {len(message.names)} search(es)?",
                plan.describe()
                + "\nTheir files except config.json and config_unique.json "
                "are deleted.",
                "Clean",
            ),
            lambda yes: yes and self.execute_clean(plan),
        )

    @work(thread=True, exit_on_error=False, description="clean")
    def execute_clean(self, plan) -> None:
        from alfred_core.clean import execute_clean

        count = execute_clean(plan)
        self.post_message(ActionDone("Cleaned", f"{count} runs reset to UNHATCHED"))

    def action_retrain(self) -> None:
        searches = self.selected_searches()
        if searches:
            search = searches[0]
            self.push_screen(
                RetrainScreen(search.name),
                lambda values: values and self.retrain(search, *values),
            )

    @work(thread=True, exit_on_error=False, description="retrain best")
    def retrain(self, search: Search, seeds: int, factor: float) -> None:
        from alfred_core.results.retrain import create_retrain_best

        created = create_retrain_best(Root(self.root), search, seeds, factor)
        self.post_message(
            ActionDone(
                "Retrain prepared",
                f"{created.name}: {len(created.runs())} runs; "
                "select it and press l to launch",
            )
        )

    def action_export(self) -> None:
        searches = self.selected_searches()
        if searches:
            self.notify(f"exporting figures of {len(searches)} search(es)…")
            self.export(searches)

    @work(
        thread=True,
        exclusive=True,
        group="export",
        exit_on_error=False,
        description="export",
    )
    def export(self, searches: list[Search]) -> None:
        from alfred_core.results.export import export_figures

        written = []
        for search in searches:
            written.extend(export_figures(search))
        self.post_message(
            ActionDone(
                "Exported", f"{len(written)} files written", written, rescan=False
            )
        )
