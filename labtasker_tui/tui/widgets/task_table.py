"""A DataTable holding one window of tasks; asks its screen for the next window at the edges."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...models import Task
from ...safe_text import inert
from ...worker.claims import WorkerInfo
from ..cells import (
    column_labels,
    column_text,
    compact_pairs,
    elapsed,
    is_number,
    relative_time,
    short_id,
    summary_highlights,
)
from ..worker_info import worker_label
from .theme_colors import theme_style

# (key, label, sort path or None, width or None)
COLUMNS: list[tuple[str, str, str | None, int | None]] = [
    ("mark", " ", None, 1),
    ("id", "id", "task_id", 8),
    ("name", "name", "task_name", 12),
    ("status", "status", "status", 9),
    ("priority", "prio", "priority", 4),
    ("args", "args", None, 20),
    ("summary", "summary", None, 14),
    ("created", "created", "created_at", 7),
    ("modified", "modified", "last_modified", 8),
]
FLEX_COLUMN = "args"
MIN_FLEX = 12
EXTRA_BEFORE = "created"   # extra path columns go before this column
EXTRA_PREFIX = "x:"        # column key of an extra column: "x:<path>"
EXTRA_MIN, EXTRA_MAX = 4, 18
RUNNING = "▶ "
COMPACT_WIDTH = 90         # narrower: a running task's run time moves into its summary cell
SORT_PATHS = {key: path for key, _, path, _ in COLUMNS if path}
STATUS_VARIABLES = {
    "pending": "warning",
    "running": "primary",
    "success": "success",
    "failed": "error",
    "cancelled": "foreground-muted",
}
MARK = "●"


def plain(text: str) -> Text:
    """A cell shown exactly as ``text`` (already escaped): no markup parsing."""
    return Text(inert(text), end="")


class TaskTable(DataTable):
    """Rows keyed by task id. Moving past the first/last row posts :class:`EdgeReached`."""

    class EdgeReached(Message):
        """The cursor tried to leave the window: direction is next, prev, first or last."""

        def __init__(self, direction: str) -> None:
            super().__init__()
            self.direction = direction

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.now: Callable[[], datetime] = datetime.now
        self.is_marked: Callable[[str], bool] = lambda _id: False
        self.worker_infos: dict[str, WorkerInfo] = {}
        self.extra: list[str] = []
        self.extra_widths: dict[str, int] = {}
        self.keys: list[str] = [key for key, *_ in COLUMNS]
        self.compact = False
        self.shown: list[Task] = []

    def column_spec(self) -> list[tuple[str, str, str | None, int | None]]:
        """COLUMNS with the extra path columns inserted before ``created``."""
        labels = column_labels(self.extra)
        extra = [(EXTRA_PREFIX + path, label, path, self.extra_widths.get(path, len(label)))
                 for path, label in zip(self.extra, labels, strict=True)]
        i = next(n for n, c in enumerate(COLUMNS) if c[0] == EXTRA_BEFORE)
        return [*COLUMNS[:i], *extra, *COLUMNS[i:]]

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        spec = self.column_spec()
        self.keys = [key for key, *_ in spec]
        for key, label, _, width in spec:
            self.add_column(label, key=key, width=width)

    def set_extra_columns(self, paths: list[str], tasks: Iterable[Task] = ()) -> None:
        """Show these extra columns (widths fit the values of ``tasks``); rows are cleared."""
        now = self.now()
        tasks = list(tasks)
        self.extra = list(paths)
        self.extra_widths = {}
        for path, label in zip(self.extra, column_labels(self.extra), strict=True):
            longest = max((len(column_text(t, path, now)) for t in tasks), default=0)
            self.extra_widths[path] = max(EXTRA_MIN, min(EXTRA_MAX, max(len(label), longest)))
        self.clear(columns=True)
        self._add_columns()
        self.fit_columns()

    def on_resize(self) -> None:
        self.fit_columns()
        compact = 0 < self.size.width < COMPACT_WIDTH
        if compact != self.compact:
            self.compact = compact
            if self.shown:
                self.show_tasks(self.shown, cursor_id=self.cursor_task_id,
                                cursor_row=self.cursor_row)

    def fit_columns(self) -> None:
        """Give the args column whatever width the fixed columns leave."""
        if FLEX_COLUMN not in self.columns or not self.size.width:
            return
        spec = self.column_spec()
        fixed = sum(w or 0 for key, _, _, w in spec if key != FLEX_COLUMN)
        padding = 2 * self.cell_padding * len(spec)
        width = max(MIN_FLEX, self.size.width - 2 - fixed - padding)
        column = self.columns[FLEX_COLUMN]
        if column.width != width:
            column.width = width
            column.auto_width = False
            self._require_update_dimensions = True
            self.refresh()

    def _status_text(self, status: str) -> Text:
        var = STATUS_VARIABLES.get(status, "foreground")
        return Text(inert(status), style=theme_style(self.app, var))

    def summary_cell(self, task: Task, now: datetime) -> object:
        """The summary; a running task's worker first (name@host/slot), and in a narrow
        table (where ``modified`` is off screen) its run time before that."""
        text = summary_highlights(task.summary)
        if task.status != "running" or not (task.worker_id or self.compact):
            return plain(text)
        label = inert(worker_label(task.worker_id, self.worker_infos.get(task.worker_id)))
        if self.compact and task.start_time is not None:
            label = f"{RUNNING.strip()}{elapsed(task.start_time, now)} {label}".rstrip()
        out = Text(label, style=theme_style(self.app, "primary"))
        if text:
            out.append(" " + text)
        return out

    def modified_cell(self, task: Task, now: datetime) -> object:
        """Last modified; a running task shows ``▶`` and its time since start instead."""
        if task.status == "running" and task.start_time is not None:
            return Text(RUNNING + elapsed(task.start_time, now),
                        style=theme_style(self.app, "primary"))
        return relative_time(task.last_modified, now)

    def row_cells(self, task: Task, now: datetime) -> list[object]:
        """The row's cells. User values become ``Text`` with control characters escaped: a
        plain ``str`` cell would be parsed as Rich markup (``[/]`` in a value is an error)."""
        cells: dict[str, object] = {
            "mark": Text(MARK, style=theme_style(self.app, "accent")) if self.is_marked(
                task.task_id) else "",
            "id": plain(short_id(task.task_id)),
            "name": plain(task.task_name or ""),
            "status": self._status_text(task.status),
            "priority": Text(str(task.priority), justify="right"),
            "args": plain(compact_pairs(task.args, limit=120)),
            "summary": self.summary_cell(task, now),
            "created": relative_time(task.created_at, now),
            "modified": self.modified_cell(task, now),
        }
        for path in self.extra:
            text = column_text(task, path, now)
            cells[EXTRA_PREFIX + path] = Text(text, justify="right", end="") if is_number(
                task, path) else plain(text)
        return [cells[key] for key in self.keys]

    def refresh_elapsed(self, tasks: Iterable[Task]) -> None:
        """Re-render the run time of the running tasks (a live clock)."""
        now = self.now()
        for task in tasks:
            if task.status == "running" and task.task_id in self.rows:
                self.update_cell(task.task_id, "modified", self.modified_cell(task, now))
                if self.compact:
                    self.update_cell(task.task_id, "summary", self.summary_cell(task, now))

    def show_tasks(self, tasks: Iterable[Task], cursor_id: str | None = None,
                   cursor_row: int = 0) -> None:
        """Replace the rows; put the cursor on ``cursor_id`` if present, else ``cursor_row``."""
        now = self.now()
        self.shown = list(tasks)
        with self.app.batch_update():
            self.clear()
            rows = 0
            target = None
            for task in self.shown:
                self.add_row(*self.row_cells(task, now), key=task.task_id)
                if task.task_id == cursor_id:
                    target = rows
                rows += 1
            if rows:
                row = target if target is not None else max(0, min(cursor_row, rows - 1))
                self.move_cursor(row=row, animate=False)

    def refresh_marks(self, ids: Iterable[str]) -> None:
        accent = theme_style(self.app, "accent")
        for task_id in ids:
            if task_id in self.rows:
                mark = Text(MARK, style=accent) if self.is_marked(task_id) else ""
                self.update_cell(task_id, "mark", mark)

    @property
    def cursor_task_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return row_key.value

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.EdgeReached("next"))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.EdgeReached("prev"))
        else:
            super().action_cursor_up()

    def action_page_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.EdgeReached("next"))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.EdgeReached("prev"))
        else:
            super().action_page_up()

    def action_scroll_bottom(self) -> None:
        self.post_message(self.EdgeReached("last"))

    def action_scroll_top(self) -> None:
        self.post_message(self.EdgeReached("first"))
