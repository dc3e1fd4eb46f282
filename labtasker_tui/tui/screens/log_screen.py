"""`l`: a task's run.log, following the file as the job writes it."""

from __future__ import annotations

import codecs
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ...models import Task
from ...safe_text import inert_lines
from ...timefmt import elapsed
from ...worker_states import WorkerInfo
from ..bindings import bindings
from ..cells import short_id
from ..errors import EXPECTED
from ..worker_info import worker_label

if TYPE_CHECKING:
    from ..app import LabtaskerApp

POLL = 0.5                  # seconds between looks at the file
TAIL_BYTES = 1 << 20        # opening a big log shows its last MiB
READ_BYTES = 4 << 20        # at most this much new output per poll
WORKER_CWD = "<the worker's working directory>"  # stands for it in remote_path()
STATUS_POLL = 2.0           # seconds between looks at the task's status
# CSI / OSC escape sequences (colours, cursor moves, titles): dropped; any other control
# character is shown as an escape (safe_text.inert_lines), never obeyed
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GiB"


class LogView(Log):
    """A Log that understands carriage returns (progress bars redraw their line)."""

    def append(self, text: str, *, scroll_end: bool) -> None:
        text = ESCAPES.sub("", text.replace("\r\n", "\n"))
        if "\r" not in text:
            self.write(_inert(text), scroll_end=scroll_end)
            return
        parts = text.split("\n")
        if "\r" in parts[0] and self._lines:
            # the line being written was redrawn: drop what is shown of it
            self._lines[-1] = ""
            self.refresh_lines(len(self._lines) - 1)
        self.write(_inert("\n".join(p.rsplit("\r", 1)[-1] for p in parts)),
                   scroll_end=scroll_end)


def _shown_path(path: Path) -> str:
    """The path relative to the working directory when under it (shorter, no temp dirs)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _inert(text: str) -> str:
    """Log text as plain characters: tabs expanded, other controls shown as escapes."""
    return inert_lines("\n".join(line.expandtabs(8) for line in text.split("\n")))


class LogScreen(Screen[None]):
    """Shows ``path`` and appends what the job writes, polling every ``POLL`` seconds."""

    ACTION_SCOPE = "log"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, task: Task, path: Path, worker: WorkerInfo | None = None) -> None:
        super().__init__()
        self.log_task = task
        self.path = path
        self.log_worker = worker
        self.read_offset = 0
        self.inode: tuple[int, int] | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.held = ""          # a trailing "\r" waits for the next chunk (it may be "\r\n")
        self.found = False
        self.note = ""

    @property
    def lt_app(self) -> LabtaskerApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="log-title")
        yield Static("", id="log-empty")
        yield LogView(id="log-view", highlight=False, auto_scroll=True)
        yield Static("", id="log-status")
        yield Footer()

    def title_text(self) -> str:
        t = self.log_task
        parts = [f" [b]log[/b]  ·  task {short_id(t.task_id)}"
                 + (f" {escape(t.task_name)}" if t.task_name else ""), t.status]
        if t.status == "running" and t.start_time is not None:
            parts[-1] += f" for {elapsed(t.start_time, self.lt_app.now())}"
        if t.worker_id:
            parts.append("worker " + escape(worker_label(t.worker_id, self.log_worker)))
        return "  ·  ".join(parts)

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.log_view.focus()
        self.read_new()
        self.set_interval(POLL, self.read_new)
        self.set_interval(STATUS_POLL, self.refresh_task)

    @work(exclusive=True, group="log-task", exit_on_error=False)
    async def refresh_task(self) -> None:
        """Follow the task's status: the title stops saying "running" once the job ended."""
        try:
            task = await self.lt_app.store.get(self.log_task.task_id)
        except EXPECTED:  # the log is still worth showing; the next poll tries again
            return
        if task is None or (task.status, task.worker_id) == (self.log_task.status,
                                                            self.log_task.worker_id):
            return
        self.log_task = task
        self.query_one("#log-title", Static).update(self.title_text())
        if self.found:
            self.update_status(self.read_offset)
        else:
            self._show_found(False)

    # -- reading --------------------------------------------------------------------------

    def missing_text(self) -> str:
        t = self.log_task
        if t.status == "pending" and t.start_time is None:
            why = "it has not run yet (this screen shows it once a worker starts it)"
        elif self.log_worker is not None and self.log_worker.host and \
                self.log_worker.host != socket.gethostname():
            verb = "runs" if t.status == "running" else "ran"
            label = worker_label(t.worker_id, self.log_worker, long=True)
            return escape(inert_lines(
                f"No log here: the task {verb} on {self.log_worker.host} (worker {label}).\n\n"
                f"Its log is on that machine: {self.remote_path()}\n"
                f"(shown here as soon as that path is reachable from this machine, e.g. on a "
                f"shared filesystem)\n\nLooked for {_shown_path(self.path)}"))
        else:
            why = "it has not run on this machine"
        return escape(inert_lines(
            f"No log for this task: {why}.\n\nLooked for {_shown_path(self.path)}"))

    def remote_path(self) -> str:
        """Where the worker engine wrote the log on the worker's machine."""
        from ...log_paths import log_path, log_root_for
        from ...store.location import sqlite_path

        url = self.lt_app.url
        if sqlite_path(url) is not None:
            return _shown_path(self.path)  # the project's .labtasker/logs: the same there
        root = log_root_for(url, cwd=Path(WORKER_CWD))  # the rule, run in the worker's cwd
        return str(log_path(url, self.log_task.task_id, root))

    def _reset(self) -> None:
        self.read_offset = 0
        self.held = ""
        self.decoder.reset()
        self.log_view.clear()

    def read_new(self) -> None:
        """Append the bytes written since the last look (start over if the file shrank)."""
        try:
            st = self.path.stat()
        except OSError:
            self._show_found(False)
            return
        inode = (st.st_dev, st.st_ino)
        if self.inode is not None and (inode != self.inode or st.st_size < self.read_offset):
            self._reset()
        self.inode = inode
        first = not self.found
        self._show_found(True)
        if st.st_size <= self.read_offset:
            self.update_status(st.st_size)
            return
        skipped = 0
        if first and st.st_size > TAIL_BYTES:
            skipped = self.read_offset = st.st_size - TAIL_BYTES
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.read_offset)
                data = fh.read(READ_BYTES)
        except OSError as exc:
            self.note = f"cannot read: {exc.strerror or exc}"
            self.update_status(st.st_size)
            return
        self.read_offset += len(data)
        text = self.decoder.decode(data)
        if skipped:
            text = text.split("\n", 1)[1] if "\n" in text else text
            text = f"… {_size(skipped)} not shown (the last {_size(TAIL_BYTES)} follow)\n" + text
        text = self.held + text
        self.held = ""
        if text.endswith("\r"):
            text, self.held = text[:-1], "\r"
        log = self.log_view
        log.append(text, scroll_end=log.is_vertical_scroll_end)
        self.update_status(st.st_size)

    def _show_found(self, found: bool) -> None:
        if found != self.found or not found:
            self.found = found
            self.query_one("#log-empty", Static).update("" if found else self.missing_text())
            self.query_one("#log-empty").display = not found
            self.log_view.display = found
            if not found:
                self.query_one("#log-status", Static).update(
                    f"waiting for {escape(self.path.name)}  ·  Esc closes")

    def update_status(self, size: int) -> None:
        log = self.log_view
        state = "following" if log.is_vertical_scroll_end else \
            "[b]scrolled up[/b]: End / G jumps back and follows"
        if self.log_task.status != "running":
            state = f"job {escape(self.log_task.status)}" + (
                "" if log.is_vertical_scroll_end else "  ·  " + state)
        parts = [state, _size(size), f"{log.line_count:,} lines",
                 escape(inert_lines(_shown_path(self.path)))]
        if self.note:
            parts.append(escape(self.note))
        self.query_one("#log-status", Static).update("  ·  ".join(parts))

    # -- actions --------------------------------------------------------------------------

    def action_follow(self) -> None:
        self.log_view.scroll_end(animate=False, immediate=True)
        self.update_status(self.read_offset)

    def action_top(self) -> None:
        self.log_view.scroll_home(animate=False, immediate=True)
        self.update_status(self.read_offset)

    def action_close(self) -> None:
        self.dismiss(None)
