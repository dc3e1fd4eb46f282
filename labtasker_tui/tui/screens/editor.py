"""In-app YAML editor for one or more tasks (spec §5.7), replacing $EDITOR."""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import tempfile

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, Static, TextArea

from ...errors import ConflictError
from ...models import Task
from ...store.task_store import Selection, TaskStore
from ..bindings import bindings, key_hint
from ..errors import EXPECTED, ReportsWorkerErrors, describe
from ..markup import PlainNotify
from ..task_yaml import EditError, EditResult, diff_lines, dump_tasks, parse_tasks
from ..widgets.theme_colors import theme_style


def changed_only(lines: list[tuple[str, str]], context: int = 1) -> list[tuple[str, str]]:
    """Each field's before (-) / after (+) block reduced to the lines that changed, with
    ``context`` unchanged lines around them (kind ' ') and '…' where lines were left out."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        if lines[i][0] != "-" and lines[i][0] != "+":
            out.append(lines[i])
            i += 1
            continue
        old: list[str] = []
        new: list[str] = []
        while i < len(lines) and lines[i][0] == "-":
            old.append(lines[i][1])
            i += 1
        while i < len(lines) and lines[i][0] == "+":
            new.append(lines[i][1])
            i += 1
        groups = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_grouped_opcodes(
            context)
        for n, group in enumerate(groups):
            first = group[0][1]
            if n == 0 and first > 0 and old:  # the field's name line, for orientation
                out.append((" ", old[0]))
            if (n > 0 or first > 1) and old:
                out.append(("…", ""))
            for tag, a0, a1, b0, b1 in group:
                if tag == "equal":
                    out += [(" ", x) for x in old[a0:a1]]
                    continue
                out += [("-", x) for x in old[a0:a1]]
                out += [("+", x) for x in new[b0:b1]]
    return out


class DiffModal(ModalScreen[bool]):
    """Shows what saving will change; Enter/y saves, Escape/n goes back to editing."""

    ACTION_SCOPE = "diff"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, lines: list[tuple[str, str]], summary: str) -> None:
        super().__init__()
        self.lines = changed_only(lines)
        self.summary = summary

    def compose(self) -> ComposeResult:
        text = Text()
        for kind, line in self.lines:
            if kind == "task":
                text.append(f"{line}\n", style="bold")
            elif kind == " ":
                text.append(f"    {line}\n", style="dim")
            elif kind == "…":
                text.append("    …\n", style="dim")
            elif kind == "-":
                text.append(f"  - {line}\n", style=theme_style(self.app, "error"))
            else:
                text.append(f"  + {line}\n", style=theme_style(self.app, "success"))
        with Vertical(classes="modal-box", id="diff-box"):
            yield Label("Save these changes?", classes="modal-title")
            yield Label(self.summary, id="diff-summary")
            with VerticalScroll(id="diff-scroll"):
                yield Static(text, id="diff-text")
            with Horizontal(classes="modal-buttons"):
                save, back = key_hint(self.app, "diff.save"), key_hint(self.app, "diff.back")
                yield Button(escape(f"Save ({save})"), variant="success", id="diff-save")
                yield Button(escape(f"Back ({back})"), variant="primary", id="diff-back")

    def on_mount(self) -> None:
        self.query_one("#diff-save", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "diff-save")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class EditorScreen(ReportsWorkerErrors, PlainNotify, Screen[int | None]):
    """Dismisses with the number of tasks saved, 0 when nothing changed, None when cancelled."""

    ACTION_SCOPE = "editor"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, store: TaskStore, tasks: list[Task]) -> None:
        super().__init__()
        self.store = store
        self.tasks = tasks
        self.versions = {t.task_id: t.version for t in tasks}
        self.result: EditResult | None = EditResult()
        self.error: EditError | None = None
        self.original_text = dump_tasks(tasks)

    def compose(self) -> ComposeResult:
        n = len(self.tasks)
        yield Static(f" Editing {n} task{'s' * (n != 1)}: lines marked '# Read-only' cannot"
                     " change; ctrl+s saves (after a diff), ctrl+o opens $EDITOR",
                     id="editor-title")
        yield TextArea.code_editor(self.original_text, language="yaml", id="editor-area",
                                   soft_wrap=False)
        with Horizontal(id="editor-status-row"):
            yield Static("", id="editor-status")
            yield Button("Save", variant="success", id="editor-save")
            yield Button("Cancel", id="editor-cancel")
        yield Footer()

    @property
    def area(self) -> TextArea:
        return self.query_one("#editor-area", TextArea)

    def on_mount(self) -> None:
        self.area.focus()
        self.validate()

    @on(TextArea.Changed, "#editor-area")
    def _changed(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Parse the buffer; show the first error with its position; disable Save if invalid."""
        status = self.query_one("#editor-status", Static)
        try:
            self.result = parse_tasks(self.area.text, self.tasks)
            self.error = None
        except EditError as exc:
            self.result = None
            self.error = exc
        save = self.query_one("#editor-save", Button)
        save.disabled = self.result is None
        status.set_class(self.error is not None, "-error")
        status.set_class(bool(self.result and self.result.warnings), "-warning")
        if self.error is not None:
            status.update(f"✗ {self.error}  (ctrl+g jumps there)")
        elif self.result is not None:
            n = len(self.result.changes)
            msg = f"✓ valid: {n} task{'s' * (n != 1)} changed"
            if self.result.warnings:
                msg += f"  ·  ⚠ {self.result.warnings[0]}"
            status.update(msg)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return True if self.result is not None else None
        if action == "goto_error":
            return True if self.error is not None and self.error.line else None
        return True

    def action_goto_error(self) -> None:
        if self.error is not None and self.error.line:
            self.area.move_cursor((self.error.line - 1, max(0, self.error.column - 1)))
            self.area.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "editor-save":
            self.action_save()
        elif event.button.id == "editor-cancel":
            self.action_close()

    @work(exclusive=True, group="editor", exit_on_error=False)
    async def action_close(self) -> None:
        if self.area.text != self.original_text:
            from .confirm import ConfirmModal

            if not await self.app.push_screen_wait(ConfirmModal(
                    "Discard your edits?", title="Cancel editing", yes="Discard")):
                return
        self.dismiss(None)

    @work(exclusive=True, group="editor", exit_on_error=False)
    async def action_save(self) -> None:
        self.validate()
        result = self.result
        if result is None:
            self.notify(str(self.error), title="Cannot save", severity="error")
            return
        if not result.changes:
            self.notify("nothing changed")
            self.dismiss(0)
            return
        n = len(result.changes)
        summary = f"{n} of {len(self.tasks)} task{'s' * (len(self.tasks) != 1)} will change"
        if result.warnings:
            summary += f"; {len(result.warnings)} read-only edit(s) ignored"
        if not await self.app.push_screen_wait(
                DiffModal(diff_lines(self.tasks, result.changes), summary)):
            return
        changes = result.changes
        try:
            await self.store.update(
                Selection(ids=list(changes)), lambda t: changes.get(t.task_id, {}),
                expected_versions={k: self.versions[k] for k in changes})
        except ConflictError as exc:
            self.show_conflict(str(exc))
            return
        except EXPECTED as exc:
            text, severity = describe(exc)
            self.notify(text, title="Not saved", severity=severity, timeout=10)
            return
        self.dismiss(n)

    def show_conflict(self, message: str) -> None:
        status = self.query_one("#editor-status", Static)
        status.update(f"✗ conflict: {message}. Nothing was saved; copy your edits, cancel and"
                      " reopen to edit the new version.")
        status.add_class("-error")
        self.notify(message, title="Conflict: not saved", severity="error", timeout=10)

    def action_external(self) -> None:
        """Hand the buffer to $VISUAL/$EDITOR and read it back."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, path = tempfile.mkstemp(prefix="labtasker-tui.", suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.area.text)
            try:
                with self.app.suspend():
                    subprocess.call([*shlex.split(editor), path])
            except Exception as exc:  # noqa: BLE001 - suspend is unsupported in some drivers
                # (tests, web; Textual raises SuspendNotSupported) and the editor may fail
                self.notify(f"cannot run {editor}: {exc}", severity="error")
                return
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        if text != self.area.text:
            self.area.load_text(text)
            self.validate()
