"""A DataTable holding one window of tasks; asks its screen for the next window at the edges."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from ...eta import DEFAULT_STALLED_AFTER, RunningTask
from ...fields import BY_NAME
from ...models import Task
from ...safe_text import inert
from ...timefmt import cell_ago, elapsed
from ...worker_states import WorkerInfo
from ..cells import (
    FIELD_COLUMNS,
    FIELD_OF,
    column_labels,
    column_text,
    compact_pairs,
    is_number,
    progress_cell,
    short_id,
    summary_highlights,
)
from ..worker_info import worker_label
from .theme_colors import STATUS_VARIABLES, theme_style

#: (key, label, sort path or None, width or None): the mark column, then the field table's
#: built-in columns (``cells.FIELD_COLUMNS``, from ``fields.TABLE_COLUMNS``)
COLUMNS: list[tuple[str, str, str | None, int | None]] = [("mark", " ", None, 1),
                                                          *FIELD_COLUMNS]
#: The run's progress (not a task field: ``runs``, read by the screen). It appears after the
#: status while a shown task has reported progress (unless a layout places it itself).
PROGRESS = "progress"
PROGRESS_COLUMN: tuple[str, str, str | None, int | None] = (PROGRESS, PROGRESS, None, 8)
FLEX_COLUMN = "args"
MIN_FLEX = 12
EXTRA_BEFORE = "created"   # extra path columns go before this column
EXTRA_PREFIX = "x:"        # column key of an extra column: "x:<path>"
EXTRA_MIN, EXTRA_MAX = 4, 40
RUNNING = "▶ "
COMPACT_WIDTH = 90         # narrower: a running task's run time moves into its summary cell
ROOMY_WIDTH = 105          # narrower: `created` gives way to the progress column when shown
KEY_OF = {path: key for key, path in FIELD_OF.items()} | {PROGRESS: PROGRESS}
#: columns whose width follows their content: (minimum, maximum or None = what is left)
CONTENT_WIDTH = {"name": (8, 24), "args": (MIN_FLEX, None), "summary": (10, 40)}
PROGRESS_MAX = 12  # '40% stalled': cut, never squeezed by the water-filling
SORT_PATHS = {key: path for key, _, path, _ in COLUMNS if path}
#: sort paths a header click sorts highest / newest first (numbers and times)
NEWEST_FIRST = frozenset(path for path in SORT_PATHS.values()
                         if BY_NAME[path].kind in ("number", "time"))
MARK = "●"


def split_width(spec: str) -> tuple[str, int | None]:
    """`args:40` -> ("args", 40); `summary.acc` -> ("summary.acc", None)."""
    path, sep, width = spec.rpartition(":")
    if sep and width.isdigit() and path:
        return path, max(1, min(200, int(width)))
    return spec, None


def water_fill(want: dict[str, tuple[int, int]], room: int,
               weight: dict[str, int] | None = None) -> dict[str, int]:
    """Widths for columns wanting (min, natural) within ``room``: all natural when they fit;
    else each gets min(natural, level × weight) with the highest level that fits (at least
    its minimum), so short columns stay whole and long ones share what is left."""
    weight = weight or {}
    if sum(nat for _, nat in want.values()) <= room:
        return {k: nat for k, (_, nat) in want.items()}

    def at(level: int) -> dict[str, int]:
        return {k: max(mn, min(nat, level * weight.get(k, 1))) for k, (mn, nat) in want.items()}

    lo, hi = 0, max((nat for _, nat in want.values()), default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(at(mid).values()) <= room:
            lo = mid
        else:
            hi = mid - 1
    return at(lo)


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
        self.runs: dict[str, RunningTask] = {}  # task id -> progress of its current run
        self.stalled_after = DEFAULT_STALLED_AFTER
        self.has_progress = False  # a shown task has progress: the default layout shows it
        self.extra: list[str] = []
        self.extra_widths: dict[str, int] = {}
        self.fixed_widths: dict[str, int] = {}  # column key -> width set in the picker
        self.col_layout: list[str] | None = None    # column keys in order (None: the default)
        self.keys: list[str] = [key for key, *_ in COLUMNS]
        self.compact = False
        self.roomy = True
        self.shown: list[Task] = []

    def column_spec(self) -> list[tuple[str, str, str | None, int | None]]:
        """The shown columns in order: COLUMNS with the extra path columns before
        ``created``, or the layout of the column picker (order, hidden, widths)."""
        labels = dict(zip(self.extra, column_labels(self.extra), strict=True))
        extra = [(EXTRA_PREFIX + path, labels[path], path, self.extra_widths.get(path))
                 for path in self.extra]
        if self.col_layout is None:
            # narrow: `created` gives way (the run time moves into the summary cell too)
            # (and, in a table below ROOMY_WIDTH, to the progress column when it is shown)
            drop = self.compact or (self.has_progress and not self.roomy)
            base = [c for c in COLUMNS if not (drop and c[0] == "created")]
            i = next(n for n, c in enumerate(base) if c[0] in (EXTRA_BEFORE, "modified"))
            return self._with_progress([*base[:i], *extra, *base[i:]])
        builtin = {c[0]: c for c in [*COLUMNS, PROGRESS_COLUMN]}
        by_key = {c[0]: c for c in extra}
        out = [builtin["mark"]]
        for key in self.col_layout:
            if key in builtin and key != "mark":
                out.append(builtin[key])
            elif key in by_key:
                out.append(by_key[key])
        return out if PROGRESS in self.col_layout else self._with_progress(out)

    def _with_progress(self, spec: list[tuple[str, str, str | None, int | None]]
                       ) -> list[tuple[str, str, str | None, int | None]]:
        """The progress column after the status (or the mark) while a shown task has
        progress; not in a narrow table (the progress moves into the summary cell)."""
        if not self.has_progress or self.compact:
            return spec
        keys = [c[0] for c in spec]
        at = keys.index("status") + 1 if "status" in keys else 1
        return [*spec[:at], PROGRESS_COLUMN, *spec[at:]]

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        spec = self.column_spec()
        self.keys = [key for key, *_ in spec]
        for key, label, _, width in spec:
            self.add_column(label, key=key, width=width or len(label))

    def set_extra_columns(self, specs: list[str], tasks: Iterable[Task] = ()) -> None:
        """Show these columns; rows are cleared. ``specs`` are paths with an optional
        ``:width``. Paths only: extra columns next to the usual ones. Naming a built-in
        column (task_id, task_name, status, priority, args, summary, created_at,
        last_modified) makes it a full layout: those columns, in that order, no others."""
        del tasks  # widths follow the rows shown (fit_columns)
        self.extra, self.fixed_widths, layout = [], {}, []
        # the progress column alone is no layout: it is shown by default already
        full = any(split_width(spec)[0] in KEY_OF and split_width(spec)[0] != PROGRESS
                   for spec in specs)
        for spec in specs:
            path, width = split_width(spec)
            if path == PROGRESS and not full:
                continue
            key = KEY_OF.get(path) if full else None
            if key is None:
                key = EXTRA_PREFIX + path
                self.extra.append(path)
            layout.append(key)
            if width:
                self.fixed_widths[key] = width
        self.col_layout = layout if full else None
        self.extra_widths = {}
        self.clear(columns=True)
        self._add_columns()
        self.fit_columns()

    def layout_specs(self) -> list[str]:
        """The columns shown, as a view stores them (see :meth:`set_extra_columns`)."""
        out = []
        for key, _, path, _ in self.column_spec():
            if key == "mark" or (key == PROGRESS and PROGRESS not in (self.col_layout or ())):
                continue  # the progress column comes and goes by itself
            name = FIELD_OF.get(key, path or key)
            width = self.fixed_widths.get(key)
            out.append(f"{name}:{width}" if width else name)
        return out

    def on_resize(self) -> None:
        self.fit_columns()
        compact = 0 < self.size.width < COMPACT_WIDTH
        roomy = not 0 < self.size.width < ROOMY_WIDTH
        if (compact, roomy) != (self.compact, self.roomy):
            self.compact, self.roomy = compact, roomy
            cursor_id, cursor_row = self.cursor_task_id, self.cursor_row
            if self.col_layout is None:  # the default columns depend on the width
                self.clear(columns=True)
                self._add_columns()
                self.fit_columns()
            if self.shown:
                self.show_tasks(self.shown, cursor_id=cursor_id, cursor_row=cursor_row)

    def natural_width(self, key: str, label: str) -> int:
        """The width the column's content needs in the rows shown."""
        now = self.now()
        if key == "name":
            texts = (t.task_name or "" for t in self.shown)
        elif key == "args":
            texts = (compact_pairs(t.args, limit=120) for t in self.shown)
        elif key == "summary":
            texts = (self._summary_plain(t, now) for t in self.shown)
        elif key.startswith(EXTRA_PREFIX):
            path = key.removeprefix(EXTRA_PREFIX)
            texts = (column_text(t, path, now) for t in self.shown)
        elif key == PROGRESS:
            texts = (self._progress_text(t, now) for t in self.shown)
        else:
            return 0
        return max([len(label), *(len(x) for x in texts)])

    def fit_columns(self) -> None:
        """Widths by content: a column's width is what its values need (within bounds);
        when they do not all fit, the widest give way first (water-filling), and args takes
        whatever room is left. Widths set in the column picker are kept as set."""
        if not self.columns or not self.size.width:
            return
        spec = self.column_spec()
        padding = 2 * self.cell_padding * len(spec)
        avail = self.size.width - 2 - padding
        want: dict[str, tuple[int, int]] = {}  # key -> (min, natural)
        widths: dict[str, int] = {}
        for key, label, _, width in spec:
            if key in self.fixed_widths:
                widths[key] = self.fixed_widths[key]
            elif key == PROGRESS:  # short: its whole content or nothing tells
                widths[key] = min(PROGRESS_MAX, self.natural_width(key, label))
            elif key in CONTENT_WIDTH or key.startswith(EXTRA_PREFIX):
                lo, hi = CONTENT_WIDTH.get(key, (EXTRA_MIN, EXTRA_MAX))
                natural = max(lo, self.natural_width(key, label))
                want[key] = (lo, min(natural, hi) if hi else natural)
            else:
                widths[key] = width or len(label)
        room = avail - sum(widths.values())
        widths.update(water_fill(want, room, {"args": 3}))  # args needs room the most
        if "args" in want and sum(widths.values()) < avail:
            widths["args"] += avail - sum(widths.values())  # args takes what is left
        changed = False
        for key, width in widths.items():
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None and (column.width != width or column.auto_width):
                column.width, column.auto_width = width, False
                changed = True
        if changed:
            self._require_update_dimensions = True
            self.refresh()

    def column_edges(self) -> list[int]:
        """The x offset where each column starts."""
        edges, x = [], 0
        for column in self.ordered_columns:
            edges.append(x)
            x += column.get_render_width(self)
        return edges

    def action_cursor_right(self) -> None:
        """Scroll right by one whole column."""
        later = [x for x in self.column_edges() if x > self.scroll_x]
        if later:
            self.scroll_to(x=min(later[0], self.max_scroll_x), animate=False)

    def action_cursor_left(self) -> None:
        """Scroll left by one whole column."""
        earlier = [x for x in self.column_edges() if x < self.scroll_x]
        self.scroll_to(x=earlier[-1] if earlier else 0, animate=False)

    def _status_text(self, status: str) -> Text:
        var = STATUS_VARIABLES.get(status, "foreground")
        return Text(inert(status), style=theme_style(self.app, var))

    def _summary_plain(self, task: Task, now: datetime) -> str:
        cell = self.summary_cell(task, now)
        return cell.plain if isinstance(cell, Text) else str(cell)

    def summary_cell(self, task: Task, now: datetime) -> object:
        """The summary; a running task's worker first (name@host/slot), and in a narrow
        table (where ``modified`` is off screen) its run time before that."""
        text = summary_highlights(task.summary, limit=60)
        if task.status != "running" or not (task.worker_id or self.compact):
            return plain(text)
        label = inert(worker_label(task.worker_id, self.worker_infos.get(task.worker_id)))
        if self.compact and (done := self._progress_text(task, now)):
            label = f"{done} {label}".rstrip()
        if self.compact and task.start_time is not None:
            label = f"{RUNNING.strip()}{elapsed(task.start_time, now)} {label}".rstrip()
        out = Text(label, style=theme_style(self.app, "primary"))
        if text:
            out.append(" " + text)
        return out

    def _progress_text(self, task: Task, now: datetime) -> str:
        return progress_cell(task, self.runs.get(task.task_id), now, self.stalled_after,
                             steps=False)

    def progress_cell(self, task: Task, now: datetime) -> object:
        """'120/1,000 12%' for a running task that reported progress; ' stalled' (in the
        warning colour) when it has not moved for ``stalled_after`` seconds."""
        text = self._progress_text(task, now)
        if not text:
            return ""
        var = "warning" if text.endswith("stalled") else "primary"
        return Text(text, style=theme_style(self.app, var), justify="right", end="")

    def modified_cell(self, task: Task, now: datetime) -> object:
        """Last modified; a running task shows ``▶`` and its time since start instead."""
        if task.status == "running" and task.start_time is not None:
            return Text(RUNNING + elapsed(task.start_time, now),
                        style=theme_style(self.app, "primary"))
        return cell_ago(task.last_modified, now)

    def row_cells(self, task: Task, now: datetime) -> list[object]:
        """The row's cells. User values become ``Text`` with control characters escaped: a
        plain ``str`` cell would be parsed as Rich markup (``[/]`` in a value is an error)."""
        cells: dict[str, object] = {
            "mark": Text(MARK, style=theme_style(self.app, "accent")) if self.is_marked(
                task.task_id) else "",
            "id": plain(short_id(task.task_id)),
            "name": plain(task.task_name or ""),
            "status": self._status_text(task.status),
            PROGRESS: self.progress_cell(task, now),
            "priority": Text(str(task.priority), justify="right"),
            "args": plain(compact_pairs(task.args, limit=120)),
            "summary": self.summary_cell(task, now),
            "created": cell_ago(task.created_at, now),
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
                if PROGRESS in self.keys and task.task_id in self.runs:  # stalls with time
                    self.update_cell(task.task_id, PROGRESS, self.progress_cell(task, now))
                if self.compact:
                    self.update_cell(task.task_id, "summary", self.summary_cell(task, now))

    def show_tasks(self, tasks: Iterable[Task], cursor_id: str | None = None,
                   cursor_row: int = 0) -> None:
        """Replace the rows; put the cursor on ``cursor_id`` if present, else ``cursor_row``."""
        now = self.now()
        self.shown = list(tasks)
        has_progress = any(t.task_id in self.runs for t in self.shown if t.status == "running")
        with self.app.batch_update():
            if has_progress != self.has_progress:
                self.has_progress = has_progress
                if self.col_layout is None or PROGRESS not in self.col_layout:
                    self.clear(columns=True)
                    self._add_columns()
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
            self.fit_columns()

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
        except CellDoesNotExist:  # the rows are being replaced
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
