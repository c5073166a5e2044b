"""Modal dialogs: confirmations that say what will happen, and the forms of actions."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class Dialog(ModalScreen):
    """A centred box; Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = getattr(self.app, "cursor_blink", True)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(Dialog):
    """Yes or no, with the counts of what the action will touch; returns a bool."""

    BINDINGS = [Binding("y", "confirm", "Yes"), Binding("n,escape", "cancel", "No")]

    def __init__(
        self, title: str, body: str, verb: str = "Yes", danger: bool = True
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.verb = verb
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.verb} (y)",
                    id="confirm",
                    variant="error" if self.danger else "primary",
                )
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.danger else "#confirm").focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")


class InfoScreen(Dialog):
    """A result to read (paths of exported files); any of Enter, Escape or q closes."""

    BINDINGS = [Binding("escape,enter,q", "cancel", "Close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.body, classes="dialog-body", markup=False)
            yield Label("↑ ↓ scroll · Enter or Escape closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()


class KillScreen(Dialog):
    """Kill a run or its whole experiment; returns "run", "experiment" or None."""

    BINDINGS = [
        Binding("r", "choose('run')", "This run"),
        Binding("e", "choose('experiment')", "Experiment"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, run_text: str, experiment_text: str) -> None:
        super().__init__()
        self.run_text = run_text
        self.experiment_text = experiment_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Kill", classes="dialog-title")
            yield Static(
                f"r: {self.run_text}\ne: {self.experiment_text}",
                classes="dialog-body",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run (r)", id="run", variant="error")
                yield Button("Experiment (e)", id="experiment", variant="error")
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel").focus()

    def action_choose(self, what: str) -> None:
        self.dismiss(what)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


def field(label: str, box: Input) -> Horizontal:
    """One line: a label, then its input."""
    return Horizontal(Label(label, classes="field-label"), box, classes="field")


def positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}: a whole number, e.g. 2") from None
    if value < 1:
        raise ValueError(f"{name}: at least 1")
    return value


class FormDialog(Dialog):
    """Inputs, an error line and a submit button; Enter in any input submits."""

    SUBMIT_ID = "submit"

    def submit(self) -> None:
        """Dismiss with the form's values, or show what is wrong."""
        raise NotImplementedError

    def show_error(self, error: ValueError) -> None:
        self.query_one("#error", Static).update(str(error))

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.submit()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.SUBMIT_ID:
            self.submit()
        else:
            self.dismiss(None)


@dataclass
class LaunchRequest:
    workers: int
    gpus: str
    executor: str
    partition: str = ""
    time: str = ""
    gres: str = ""


class LaunchScreen(FormDialog):
    """Workers, GPUs and the executor of a launch; returns a LaunchRequest."""

    def __init__(self, names: list[str], slurm: bool | None = None) -> None:
        super().__init__()
        self.names = names
        self.slurm = shutil.which("sbatch") is not None if slurm is None else slurm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Launch {len(self.names)} search(es)", classes="dialog-title")
            yield Static(
                "\n".join(self.names[:6]) + ("\n…" if len(self.names) > 6 else ""),
                classes="dialog-body",
                markup=False,
            )
            yield field("Workers", Input("2", id="workers", type="integer"))
            yield field("GPUs", Input("", id="gpus", placeholder="e.g. 0,1 (none)"))
            if self.slurm:
                yield field(
                    "Executor",
                    Input("local", id="executor", placeholder="local or slurm"),
                )
                yield field(
                    "Partition", Input("", id="partition", placeholder="slurm only")
                )
                yield field("Time", Input("", id="time", placeholder="e.g. 1:00:00"))
                yield field("Gres", Input("", id="gres", placeholder="e.g. gpu:1"))
            yield Static(
                "Detached: runs go on after this app closes.", classes="dialog-hint"
            )
            yield Static("", id="error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Launch", id="submit", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#workers", Input).focus()

    def value(self, widget_id: str) -> str:
        found = self.query(f"#{widget_id}")
        return found.first(Input).value.strip() if found else ""

    def submit(self) -> None:
        try:
            workers = positive_int(self.value("workers"), "workers")
            executor = self.value("executor") or "local"
            if executor not in ("local", "slurm"):
                raise ValueError("executor: local or slurm")
            if executor == "slurm" and self.value("gpus"):
                raise ValueError(
                    "GPUs are for local launches; on Slurm ask with Gres, e.g. gpu:1"
                )
        except ValueError as error:
            self.show_error(error)
            return
        self.dismiss(
            LaunchRequest(
                workers,
                self.value("gpus"),
                executor,
                self.value("partition"),
                self.value("time"),
                self.value("gres"),
            )
        )


class RetrainScreen(FormDialog):
    """Seeds and budget factor of a retrain of the best configuration."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.search_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Retrain the best configuration", classes="dialog-title")
            yield Static(self.search_name, classes="dialog-body", markup=False)
            yield field("Seeds", Input("10", id="seeds", type="integer"))
            yield field("Budget ×", Input("2.0", id="factor", type="number"))
            yield Static("", id="error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create", id="submit", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#seeds", Input).focus()

    def submit(self) -> None:
        try:
            seeds = positive_int(self.query_one("#seeds", Input).value, "seeds")
            factor = float(self.query_one("#factor", Input).value)
            if factor <= 0:
                raise ValueError("factor: above 0")
        except ValueError as error:
            self.show_error(error)
            return
        self.dismiss((seeds, factor))


class PrepareScreen(Dialog):
    """Pick a schedule, type a desc, see the dry run, confirm; returns the plan."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "schedule(-1)", "Previous schedule", show=False),
        Binding("down", "schedule(1)", "Next schedule", show=False),
    ]

    class Planned(Message):
        def __init__(self, plan, error: str = "") -> None:
            super().__init__()
            self.plan = plan
            self.error = error

    def __init__(self, project_dir: Path, root: Path) -> None:
        super().__init__()
        self.project_dir = project_dir
        self.root = root
        self.plan = None
        schedules = project_dir / "schedules"
        self.schedules = (
            sorted(
                path
                for path in schedules.glob("*.py")
                if path.name.startswith(("grid_schedule", "random_schedule"))
            )
            if schedules.is_dir()
            else []
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(
                f"Prepare a search of {self.project_dir}", classes="dialog-title"
            )
            yield Label("Schedule (↑ ↓)")
            yield OptionList(
                *[Option(path.name, id=str(path)) for path in self.schedules],
                id="schedules",
            )
            yield field(
                "Desc",
                Input("", id="desc", placeholder="e.g. lr_sweep; Enter: dry run"),
            )
            yield Static(
                ""
                if self.schedules
                else f"no grid_schedule*.py or random_schedule*.py in "
                f"{self.project_dir / 'schedules'}",
                id="plan",
                classes="dialog-body",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Dry run", id="dry-run")
                yield Button("Prepare", id="prepare", variant="primary", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.schedules:
            self.query_one("#schedules", OptionList).highlighted = 0
        self.query_one("#desc", Input).focus()

    def action_schedule(self, step: int) -> None:
        options = self.query_one("#schedules", OptionList)
        if self.schedules:
            current = options.highlighted or 0
            options.highlighted = (current + step) % len(self.schedules)

    def chosen(self) -> Path | None:
        options = self.query_one("#schedules", OptionList)
        if options.highlighted is None or not self.schedules:
            return None
        return self.schedules[options.highlighted]

    @on(Input.Changed, "#desc")
    @on(OptionList.OptionHighlighted)
    def forget_plan(self) -> None:
        self.plan = None
        self.query_one("#prepare", Button).disabled = True

    @on(Input.Submitted, "#desc")
    def desc_submitted(self) -> None:
        if self.plan is not None:
            self.dismiss(self.plan)
        else:
            self.dry_run()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "dry-run":
            self.dry_run()
        elif event.button.id == "prepare" and self.plan is not None:
            self.dismiss(self.plan)
        elif event.button.id == "cancel":
            self.dismiss(None)

    def dry_run(self) -> None:
        schedule = self.chosen()
        if schedule is None:
            return
        self.query_one("#plan", Static).update("planning…")
        self.make_plan(schedule, self.query_one("#desc", Input).value.strip())

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def make_plan(self, schedule: Path, desc: str) -> None:
        from alfred_core.errors import AlfredError
        from alfred_core.prepare import plan_prepare

        try:
            plan = plan_prepare(
                schedule, desc, root=self.root, project_dir=self.project_dir
            )
        except AlfredError as error:
            self.post_message(self.Planned(None, str(error)))
            return
        self.post_message(self.Planned(plan))

    def on_prepare_screen_planned(self, message: Planned) -> None:
        self.plan = message.plan
        plan_view = self.query_one("#plan", Static)
        if message.plan is None:
            plan_view.update(f"error: {message.error}")
            return
        plan_view.update(
            message.plan.describe() + "\nEnter or Prepare: create these runs"
        )
        self.query_one("#prepare", Button).disabled = False
