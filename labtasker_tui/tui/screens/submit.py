"""Form to submit a new task from `-- --foo.bar 0.1` style text, showing the parsed args."""

from __future__ import annotations

import shlex
from typing import Any

import yaml
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...safe_text import inert_lines
from ...store.task_store import TaskStore
from ..bindings import bindings
from ..errors import EXPECTED, ReportsWorkerErrors, message


def parse_args_text(text: str) -> tuple[dict[str, Any], list[str]]:
    """`-- --lr 0.1 --opt.m 0.9` -> (args, dropped flags); raises ValueError."""
    tokens = shlex.split(text)
    if tokens and tokens[0] == "--":
        tokens = tokens[1:]
    if not tokens:
        return {}, []
    from ...args import parse_cli_args

    args, dropped = parse_cli_args(tokens)
    return args, list(dropped or [])


def dropped_text(dropped: list[str]) -> str:
    """The CLI's warning, one line for all: flags with no value are not submitted."""
    if not dropped:
        return ""
    flags = " ".join(dropped)
    verb = "has" if len(dropped) == 1 else "have"
    return (f"⚠ {flags} {verb} no value and will be dropped (write {dropped[0]}=VALUE to "
            f"keep it)")


class SubmitScreen(ReportsWorkerErrors, ModalScreen[list[str] | None]):
    ACTION_SCOPE = "submit"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, store: TaskStore) -> None:
        super().__init__()
        self.store = store
        self.spec: dict[str, Any] | None = None
        self.dropped: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="submit-box"):
            yield Label("Submit a new task", classes="modal-title")
            yield Label("args, as on the command line after --", classes="field-label")
            yield Input(placeholder="-- --lr 0.1 --model resnet --opt.momentum 0.9",
                        id="submit-args")
            yield Static("", id="submit-dropped")
            with Horizontal(id="submit-row"):
                with Vertical():
                    yield Label("name", classes="field-label")
                    yield Input(placeholder="grid-1", id="submit-name")
                with Vertical():
                    yield Label("priority", classes="field-label")
                    yield Input("10", id="submit-priority")
            yield Label("cmd (optional)", classes="field-label")
            yield Input(placeholder="python train.py", id="submit-cmd")
            yield Label("parsed", classes="field-label")
            yield Static("", id="submit-preview")
            with Horizontal(classes="modal-buttons"):
                yield Button("Submit (ctrl+s)", variant="success", id="submit-ok")
                yield Button("Cancel", id="submit-cancel")

    def on_mount(self) -> None:
        self.query_one("#submit-args", Input).focus()
        self.update_preview()

    def value(self, name: str) -> str:
        return self.query_one(f"#submit-{name}", Input).value.strip()

    def build_spec(self) -> dict[str, Any]:
        args, dropped = parse_args_text(self.value("args"))
        self.dropped = dropped
        spec: dict[str, Any] = {"args": args}
        if self.value("name"):
            spec["task_name"] = self.value("name")
        prio = self.value("priority")
        if prio:
            try:
                spec["priority"] = int(prio)
            except ValueError:
                raise ValueError("priority must be an integer") from None
        if self.value("cmd"):
            spec["cmd"] = self.value("cmd")
        if not args and not spec.get("cmd"):
            raise ValueError("Either cmd or args must be specified.")
        from ...models import validate_fields, validation_message

        try:
            validate_fields(spec)
        except ValueError as exc:
            raise ValueError(validation_message(exc)) from None
        return spec

    @on(Input.Changed)
    def update_preview(self) -> None:
        """The parsed task as YAML, and the flags that will be dropped (as the CLI warns).
        User text is shown as plain Text, never as markup."""
        preview = self.query_one("#submit-preview", Static)
        self.dropped = []
        try:
            self.spec = self.build_spec()
        except Exception as exc:  # noqa: BLE001 - guards the argument parser on every
            # keystroke: any fault in the typed text shows in the preview, never crashes
            self.spec = None
            preview.update(Text(inert_lines(f"✗ {message(exc)}")))
            preview.add_class("-error")
        else:
            text = yaml.safe_dump(self.spec, sort_keys=False, allow_unicode=True).rstrip()
            if self.dropped:
                text += f"\n# dropped flags (no value): {' '.join(self.dropped)}"
            preview.update(Text(inert_lines(text)))
            preview.remove_class("-error")
        dropped = self.query_one("#submit-dropped", Static)
        dropped.update(Text(inert_lines(dropped_text(self.dropped))))
        dropped.display = bool(self.dropped)
        self.query_one("#submit-ok", Button).disabled = self.spec is None

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit-ok":
            self.action_submit()
        else:
            self.dismiss(None)

    @work(exclusive=True, exit_on_error=False)
    async def action_submit(self) -> None:
        if self.spec is None:
            self.notify("fix the form first", severity="warning")
            return
        try:
            ids = await self.store.submit([self.spec])
        except EXPECTED as exc:
            self.notify(message(exc), title="Not submitted", severity="error")
            return
        if self.dropped:
            self.notify(dropped_text(self.dropped), title="Submitted without",
                        severity="warning", markup=False)
        self.dismiss(ids)

    def action_cancel(self) -> None:
        self.dismiss(None)
