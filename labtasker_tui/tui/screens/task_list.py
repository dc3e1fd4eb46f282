"""The main screen: filter bar, status counts, a window of tasks, detail pane, actions."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from ...errors import ConflictError, NotFoundError, StoreError, UserError
from ...models import Task
from ...store.task_store import Selection, SelectionChanged
from ...store.workers import fetch_workers
from .. import history
from ..actions import ACTIONS
from ..cells import column_labels, column_text, parse_columns
from ..markup import PlainNotify, esc
from ..typeahead import TypeAhead, send_key, swallow, via_input
from ..widgets.detail_pane import DetailPane
from ..widgets.filter_bar import FilterBar
from ..widgets.status_counts import StatusCounts
from ..widgets.task_table import EXTRA_PREFIX, SORT_PATHS, TaskTable
from .confirm import ConfirmModal
from .prompt import PromptModal

if TYPE_CHECKING:
    from ..app import LabtaskerApp

WINDOW = 200
#: the longest keys typed after a key that opens an input are held for it (then dropped)
TYPE_AHEAD_WAIT = 5.0
LOAD_TAG = "tui-load"  # the reads of loads and counts: a new load interrupts them
EDIT_LIMIT = 500
SORT_CYCLE: list[list[tuple[str, bool]]] = [
    [],
    [("priority", True)],
    [("created_at", True)],
    [("last_modified", True)],
    [("task_name", False)],
    [("status", False)],
]


def _bindings() -> list[Binding]:
    out = [Binding("q", "app.quit", "Quit"), Binding("question_mark", "app.help", "Help"),
           Binding("j", "cursor('down')", show=False), Binding("k", "cursor('up')", show=False)]
    for spec in ACTIONS:
        out.append(Binding(spec.key, spec.action, spec.footer or spec.title,
                           show=bool(spec.footer), tooltip=spec.help))
    out += [Binding(key, action, title, show=False, tooltip=help_text)
            for action, key, title, help_text in SCREEN_ACTIONS]
    return out


#: Filter screen and saved views: (action, key, palette title, help).
SCREEN_ACTIONS: list[tuple[str, str, str, str]] = [
    ("undo", "u", "task: undo the last change", "Undo the newest change (after a preview)"),
    ("undo(True)", "U", "task: redo the last undo", "Redo the newest undo (after a preview)"),
    ("filter_screen", "f", "filter: filter screen (live matches, facets, examples)",
     "Compose a filter with live counts and facet drill-down"),
    ("views", "v", "view: switch saved view", "Apply a saved view's filter and sort"),
    ("save_view", "V", "view: save current filter, sort and columns as…",
     "Store the current filter, sort and extra columns as a named view in the database"),
    ("columns", "C", "view: extra columns by path…",
     "Show columns for JSON paths, e.g. args.model, summary.acc"),
    ("column_picker", "O", "view: columns (hide, reorder, widen)…",
     "Pick the columns shown, their order and widths; V saves them with the view"),
    ("show_log", "l", "task: show run.log (follows it)",
     "The cursor task's run.log, following new output"),
]


#: actions that open an input, a modal or another screen: the keys typed right after their
#: key belong to what they open
OPENING_ACTIONS = {"filter", "filter_screen", "columns", "assign", "priority", "sort_path",
                   "save_view", "submit", "views", "edit", "delete", "show_log", "app.help"}


def _opening_keys() -> set[str]:
    out = set()
    for binding in _bindings():
        if binding.action in OPENING_ACTIONS:
            out.update(k.strip() for k in binding.key.split(","))
    return out


def sort_text(sort: list[tuple[str, bool]]) -> str:
    if not sort:
        return "fetch order"
    return ", ".join(f"{path} {'↓' if desc else '↑'}" for path, desc in sort)


def parse_sort(text: str) -> list[tuple[str, bool]]:
    """`-args.lr, priority` -> [("args.lr", True), ("priority", False)] (the CLI's syntax;
    raises SortError for an unknown field or a malformed path)."""
    from ...sorting import parse_sort_text

    return parse_sort_text(text)


def compile_where(text: str, dialect: str) -> Any:
    """The SQL condition of a filter text (None when empty)."""
    if not text.strip():
        return None
    from ...query import filter_to_sql, parse_filter

    compiled = parse_filter(text)
    return None if compiled is None else filter_to_sql(compiled, dialect)


OPENS_INPUT = _opening_keys()


class TaskListScreen(PlainNotify, Screen):
    """Shows a window of ≤ WINDOW tasks from the store and acts on them."""

    BINDINGS = _bindings()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, *, filter_text: str = "", status: str | None = None,
                 ids: list[str] | None = None,
                 sort: list[tuple[str, bool]] | None = None) -> None:
        super().__init__()
        self.filter_text = filter_text
        self.where: Any = None
        self.status = status
        self.ids = ids
        self.sort: list[tuple[str, bool]] = list(sort or [])
        self.win_offset = 0
        self.total = 0
        self.tasks: list[Task] = []
        self.by_id: dict[str, Task] = {}
        self.marked: set[str] = set()
        self.mark_all: Selection | None = None
        self.mark_all_count = 0
        self.seq: int | None = None
        self.pending_changes = False
        self.error: str | None = None
        self.loaded_once = False
        self.total_known = False
        self.load_gen = 0  # bumped by every load; a load or count of an older one is dropped
        self.view: Any = None  # the saved view last loaded or saved (store.views.View)
        self.extra_columns: list[str] = []
        self.worker_infos: dict[str, Any] = {}  # worker_id -> WorkerInfo of running tasks shown
        self.type_ahead: list[events.Key] | None = None  # keys held while an input opens
        self._type_ahead_timer: Any = None
        self._type_ahead_since = 0.0
        self._footer_marks = False  # whether the footer shows `A Unmark`

    @property
    def lt_app(self) -> LabtaskerApp:
        return self.app  # type: ignore[return-value]

    @property
    def store(self):
        return self.lt_app.store

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title-bar")
        yield FilterBar(id="filter-bar")
        with Horizontal(id="body"):
            yield StatusCounts(id="status-counts")
            with Vertical(id="table-column"):
                yield TaskTable(id="task-table")
                yield Static("", id="position")
            yield DetailPane(id="detail")
        yield Footer()

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    def on_resize(self, event: events.Resize) -> None:
        # a narrow terminal gets the compact footer, so every key still fits at 80 columns
        self.query_one(Footer).compact = event.size.width < 110

    def on_mount(self) -> None:
        table = self.table
        table.now = self.lt_app.now
        table.is_marked = self.is_marked
        self.query_one(DetailPane).display = False
        bar = self.query_one(FilterBar)
        bar.set_applied(self.filter_text)
        self._set_history(history.load(self.lt_app.url))
        self.query_one("#title-bar", Static).update(self.lt_app.title_text())
        try:
            self.where = compile_where(self.filter_text, self.store.dialect)
        except Exception as exc:
            self.error = f"filter: {getattr(exc, 'message', exc)}"
            self.filter_text = ""
        table.focus()
        self.watch(self.app, "theme", lambda _theme: self._repaint(), init=False)
        self.load(0)
        if self.lt_app.live:
            self.set_interval(1.0, self.poll)
            self.set_interval(1.0, self.tick)

    # -- state ----------------------------------------------------------------------------

    def selection(self, *, with_status: bool = True) -> Selection:
        return Selection(ids=self.ids, status=self.status if with_status else None,
                         where=self.where)

    def is_marked(self, task_id: str) -> bool:
        return self.mark_all is not None or task_id in self.marked

    @property
    def cursor_task(self) -> Task | None:
        task_id = self.table.cursor_task_id
        return self.by_id.get(task_id) if task_id else None

    def update_position(self) -> None:
        n = len(self.tasks)
        if self.error:
            text = f"[b]Error:[/b] {esc(self.error)}"
        elif not n:
            text = "no tasks match" if self.loaded_once else "loading…"
        else:
            total = f"{self.total:,}" if self.total_known else "…"
            text = f"rows {self.win_offset + 1:,}–{self.win_offset + n:,} of {total}"
        parts = [text, f"sort: {esc(sort_text(self.sort))}"]
        if self.status:
            parts.append(f"status: {esc(self.status)}")
        marked = self.mark_all_count if self.mark_all is not None else len(self.marked)
        if (self.mark_all is not None or bool(self.marked)) != self._footer_marks:
            self._footer_marks = not self._footer_marks
            self.refresh_bindings()
        if marked:
            parts.append(f"{marked:,} marked" + (" (all matching)" if self.mark_all else ""))
        if self.pending_changes:
            parts.append("changes waiting (ctrl+home or ctrl+r)")
        if self.view is not None:
            parts.append(f"view: {esc(self.view.name)}" + (" (modified)" if self.view_modified()
                                                     else ""))
        self.query_one("#position", Static).update("  ·  ".join(parts))

    # -- loading --------------------------------------------------------------------------

    def load(self, offset: int, **kwargs: Any) -> None:
        """Show the window at ``offset`` (see :meth:`_load`). A newer load supersedes this
        one: its SQLite statements are interrupted (not cancelled: a cancelled aiosqlite
        read would keep running in its thread, and the connection would be torn down)."""
        self.load_gen += 1
        self.store.interrupt_reads(LOAD_TAG)
        self._load(self.load_gen, offset, **kwargs)

    @work(group="load", exit_on_error=False)
    async def _load(self, gen: int, offset: int, *,
                    cursor_id: str | None = None, cursor_row: int = 0,
                    to_end: bool = False, after: Task | None = None,
                    before: Task | None = None, size: int | None = None) -> None:
        """Fetch the window at ``offset`` (or the last window); the total and the status
        counts follow in :meth:`load_counts`, so they never hold back the rows.

        Moving to the next/previous window passes the edge task (``after``/``before``): the
        store then reads by keyset, so a window deep in a million tasks costs what the first
        does; ``offset`` only keeps the position line right."""
        table = self.table
        timer = self.set_timer(0.25, lambda: setattr(table, "loading", True))
        total: int | None = None
        try:
            sel = self.selection()
            store, sort, read = self.store, self.sort, self._read
            if not (to_end or after is not None or before is not None):
                seq, tasks = await read(store.window(sel, sort=sort, limit=WINDOW,
                                                     offset=offset))
            else:
                seq = await read(store.change_seq())
            if to_end:
                total = await read(store.count(sel))
                offset = max(0, total - WINDOW)
                tasks = await read(store.page(sel, sort=sort, limit=WINDOW, last=True,
                                              offset=offset))
            elif after is not None or before is not None:
                tasks = await read(store.page(sel, sort=sort, limit=size or WINDOW,
                                              after=after, before=before, offset=offset))
            if not tasks and offset > 0:  # past the end (tasks went away): the last window
                total = await read(store.count(sel))
                offset = max(0, total - WINDOW)
                tasks = await read(store.list(sel, sort=sort, limit=WINDOW, offset=offset))
            if total is None and offset == 0 and len(tasks) < (size or WINDOW):
                total = len(tasks)  # the whole selection is on screen: no count needed
            workers = await self._read(fetch_workers(
                self.store, [t.worker_id for t in tasks if t.worker_id]))
        except ImportError:
            self.sort = []
            self.notify("sorting by this key needs the query package", severity="error")
            return
        except Exception as exc:
            if gen != self.load_gen:
                return  # superseded (interrupted): the newer load reports
            self.error = _describe(exc)
            self.update_position()
            self.notify(self.error, title="Cannot load tasks", severity="error")
            return
        finally:
            timer.stop()
            if gen == self.load_gen:
                table.loading = False
        if gen != self.load_gen:
            return
        self.error = None
        self.loaded_once = True
        self.seq = seq
        self.pending_changes = False
        # until load_counts reports, a lower bound that still lets the cursor page onwards
        self.total_known = total is not None
        self.total = total if total is not None else offset + len(tasks) + (
            1 if len(tasks) >= (size or WINDOW) else 0)
        self.win_offset = offset
        self.tasks = tasks
        self.by_id = {t.task_id: t for t in tasks}
        self.worker_infos = table.worker_infos = workers
        if to_end:
            cursor_row = len(tasks) - 1
        table.show_tasks(tasks, cursor_id=cursor_id, cursor_row=cursor_row)
        self.update_position()
        self.update_detail()
        self.load_counts(gen, sel, need_total=total is None)

    @work(group="load", exit_on_error=False)
    async def load_counts(self, gen: int, sel: Selection, *, need_total: bool) -> None:
        """The total and the per-status counts of the selection (superseded by a new load)."""
        try:
            total = await self._read(self.store.count(sel)) if need_total else None
            if gen != self.load_gen:
                return
            counts = await self._read(self.store.count_by_status(self.selection(with_status=False)))
        except Exception as exc:  # noqa: BLE001 - the rows are shown; say what is missing
            if gen == self.load_gen:
                self.notify(_describe(exc), title="Cannot count tasks", severity="warning")
            return
        if gen != self.load_gen:
            return
        if total is not None:
            self.total = total
            self.total_known = True
            if self.mark_all is not None:
                self.mark_all_count = total
        self.query_one(StatusCounts).show(counts, self.status)
        self.update_position()

    def _read(self, coro: Any) -> Any:
        """Run a store read of a load in its own task, tagged so that a newer load interrupts
        it, and shielded: cancelling the worker (screen closed, app quit) must not cancel an
        aiosqlite statement mid-flight (SQLAlchemy would tear the connection down, and
        closing it could then wait forever)."""
        return self.lt_app.db_task(coro, LOAD_TAG)

    def _repaint(self) -> None:
        """Re-render cells (their colours come from the theme)."""
        cursor = self.table.cursor_task_id
        self.table.show_tasks(self.tasks, cursor_id=cursor, cursor_row=self.table.cursor_row)
        self.query_one(StatusCounts).show(self.query_one(StatusCounts).counts, self.status)

    def reload(self) -> None:
        """Re-read the current window keeping the cursor on the same task."""
        self.load(self.win_offset, cursor_id=self.table.cursor_task_id,
                  cursor_row=self.table.cursor_row)

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def poll(self) -> None:
        """Live refresh: when the store changed, reload if at the top, else flag it."""
        if not self.loaded_once or self.app.screen is not self:
            return
        try:
            seq = await self.store.change_seq()
        except Exception:
            return
        if self.seq is None or seq == self.seq:
            return
        if self.win_offset == 0:
            self.reload()
        elif not self.pending_changes:
            self.pending_changes = True
            self.update_position()

    @on(TaskTable.EdgeReached)
    def _edge(self, event: TaskTable.EdgeReached) -> None:
        n = len(self.tasks)
        if event.direction == "next" and self.win_offset + n < self.total:
            self.load(self.win_offset + n, cursor_row=0,
                      after=self.tasks[-1] if self.tasks else None)
        elif event.direction == "prev" and self.win_offset > 0:
            start = max(0, self.win_offset - WINDOW)
            self.load(start, cursor_row=self.win_offset - start - 1,
                      before=self.tasks[0] if self.tasks else None,
                      size=self.win_offset - start)
        elif event.direction == "first":
            self.action_top()
        elif event.direction == "last":
            self.action_bottom()

    def action_top(self) -> None:
        if self.win_offset == 0 and not self.pending_changes:
            self.table.move_cursor(row=0)
        else:
            self.load(0, cursor_row=0)

    def action_bottom(self) -> None:
        if self.win_offset + len(self.tasks) >= self.total and not self.pending_changes:
            self.table.move_cursor(row=max(0, len(self.tasks) - 1))
        else:
            self.load(0, to_end=True)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.update_detail()

    def update_detail(self) -> None:
        pane = self.query_one(DetailPane)
        if pane.display:
            task = self.cursor_task
            worker = self.worker_infos.get(task.worker_id) if task and task.worker_id else None
            pane.show_task(task, worker, self.lt_app.now())

    def tick(self) -> None:
        """The run time of running tasks is a clock: re-render it every second."""
        if self.app.screen is self and any(t.status == "running" for t in self.tasks):
            self.table.refresh_elapsed(self.tasks)

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        path = key.removeprefix(EXTRA_PREFIX) if key.startswith(EXTRA_PREFIX) \
            else SORT_PATHS.get(key)
        if path is None:
            self.notify("sort by args or summary with S (e.g. -args.lr)")
            return
        if self.sort and self.sort[0][0] == path:
            self.sort = [(path, not self.sort[0][1])]
        else:
            self.sort = [(path, path in ("priority", "created_at", "last_modified"))]
        self.load(0)

    # -- filter ---------------------------------------------------------------------------

    def action_filter(self) -> None:
        # synchronously: the keys typed right after / must find the input focused
        self.set_focus(self.query_one(FilterBar).input)

    def on_key(self, event: events.Key) -> None:
        """Keys typed ahead of an input go to that input, never to a list binding.

        Keys reach this screen in order, before the app looks up their bindings: so the key
        that opens an input switches the screen into type-ahead mode here, and every key
        after it goes to that input (or modal), see tui/typeahead.py."""
        top = self.app.screen
        if top is not self:  # a stray from before a modal opened
            swallow(event)
            self._flush_type_ahead(top, event)
            return
        if self.type_ahead is not None:  # an input is opening: hold the key for it
            swallow(event)
            self.type_ahead.append(event)
            return
        bar_input = self.query_one(FilterBar).input
        if self.focused is bar_input:
            if not via_input(event):  # it went to the table before / moved the focus
                swallow(event)
                send_key(bar_input, event)
            return
        if not isinstance(self.focused, Input) and event.key in OPENS_INPUT:
            if event.key == "slash":
                swallow(event)
                self.action_filter()
                return
            self.type_ahead = []  # the binding runs next and opens the modal
            self._type_ahead_since = time.monotonic()
            if self._type_ahead_timer is None:
                self._type_ahead_timer = self.set_interval(0.05, self._type_ahead_check)

    def _flush_type_ahead(self, top: Screen, event: events.Key | None = None) -> None:
        held, self.type_ahead = self.type_ahead or [], None
        self._stop_type_ahead_timer()
        if isinstance(top, TypeAhead):
            for key in held + ([event] if event is not None else []):
                top.type_ahead(key)

    def _type_ahead_check(self) -> None:
        """Hand the held keys to the screen that opened, or drop them when nothing opens
        (e.g. no task under the cursor): replaying them as list keys could run commands
        that were typed as text."""
        if self.type_ahead is None:
            self._stop_type_ahead_timer()
            return
        if self.app.screen is not self:
            self._flush_type_ahead(self.app.screen)
            return
        waited = time.monotonic() - self._type_ahead_since
        opening = any(w.node is self and w.group == "action" and not w.is_finished
                      for w in self.app.workers)
        if waited > TYPE_AHEAD_WAIT or (waited > 0.2 and not opening):
            held, self.type_ahead = self.type_ahead, None
            self._stop_type_ahead_timer()
            if held:
                self.notify(f"ignored {len(held)} key{'s' * (len(held) != 1)} typed while an"
                            " input was opening", severity="warning", timeout=4)

    def _stop_type_ahead_timer(self) -> None:
        if self._type_ahead_timer is not None:
            self._type_ahead_timer.stop()
            self._type_ahead_timer = None

    def on_screen_suspend(self) -> None:
        if self.type_ahead is not None:
            self._flush_type_ahead(self.app.screen)

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self.apply_filter(event.text)

    @on(FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        self.table.focus()

    def action_filter_screen(self) -> None:
        from .filter_screen import FilterScreen

        bar = self.query_one(FilterBar)

        def done(text: str | None) -> None:
            if text is None:
                self.table.focus()
                return
            bar.set_applied(text)
            self.apply_filter(text)

        self.app.push_screen(FilterScreen(
            self.store, self.filter_text, sort=self.sort, history=bar.input.history,
            title=self.lt_app.title_text() + "  ·  [b]filter[/b]"), done)

    def _set_history(self, items: list[str]) -> None:
        filter_input = self.query_one(FilterBar).input
        filter_input.history[:] = items
        filter_input.history_pos = len(items)

    def apply_filter(self, text: str) -> bool:
        try:
            self.where = compile_where(text, self.store.dialect)
        except Exception as exc:
            self.notify(_describe(exc), title="Filter", severity="error")
            return False
        if text.strip():  # kept for the next session on this database
            self._set_history(history.remember(self.lt_app.url, text.strip()))
        self.filter_text = text
        self.clear_marks()
        self.table.focus()
        self.load(0)
        return True

    # -- saved views ----------------------------------------------------------------------

    def view_modified(self) -> bool:
        v = self.view
        return v is not None and (self.filter_text.strip() != v.filter.strip()
                                  or list(self.sort) != list(v.sort) or bool(self.status)
                                  or list(self.extra_columns) != list(v.columns))

    @work(group="action", exit_on_error=False)
    async def action_views(self) -> None:
        from ...store.views import list_views
        from ..widgets.view_picker import ViewPicker

        try:
            views = await list_views(self.store)
        except Exception as exc:
            self.fail(exc, "Cannot list views")
            return
        view = await self.app.push_screen_wait(
            ViewPicker(views, self.view.name if self.view is not None else None))
        if view is not None:
            self.load_view(view)

    def load_view(self, view: Any) -> None:
        """Apply a saved view's filter, sort and columns (the status filter is cleared)."""
        try:
            where = compile_where(view.filter, self.store.dialect)
        except Exception as exc:
            self.notify(_describe(exc), title=f"View {view.name}", severity="error")
            return
        self.view = view
        self.filter_text, self.where, self.status = view.filter, where, None
        self.sort = list(view.sort)
        try:
            columns = parse_columns(", ".join(view.columns))
        except ValueError as exc:
            self.notify(str(exc), title=f"View {view.name}: columns", severity="warning")
            columns = []
        self.set_columns(columns)
        self.query_one(FilterBar).set_applied(view.filter)
        self.clear_marks()
        self.notify(f"view {view.name}", timeout=2)
        self.load(0)

    @work(group="action", exit_on_error=False)
    async def action_save_view(self) -> None:
        from ...store.views import VIEW_NAME, View, save_view

        async def check(name: str) -> tuple[bool, str]:
            if not VIEW_NAME.match(name):
                return False, "letters, digits, '_', '-' or '.'"
            cols = f"  ·  columns: {', '.join(self.extra_columns)}" \
                if self.extra_columns else ""
            return True, f"filter: {self.filter_text or '(all tasks)'}  ·  sort: " \
                         f"{sort_text(self.sort)}{cols}"

        name = await self.app.push_screen_wait(PromptModal(
            "Save view as", value=self.view.name if self.view is not None else "",
            placeholder="vit-failed", preview=check,
            help_text="Stored in the database: every machine on this queue sees it "
                      "(labtasker-tui ls --view NAME)."))
        if not name:
            return
        view = View(name=name, filter=self.filter_text, sort=list(self.sort),
                    columns=list(self.extra_columns))
        try:
            replaced = await save_view(self.store, view)
        except Exception as exc:
            self.fail(exc, "Cannot save the view")
            return
        self.view = view
        self.update_position()
        self.notify(f"{'Replaced' if replaced else 'Saved'} view {name}")

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).set_applied("")
        self.filter_text, self.where, self.status = "", None, None
        self.clear_marks()
        self.load(0)

    def action_status(self, status: str) -> None:
        self.status = status or None
        self.clear_marks()
        self.load(0)

    @on(StatusCounts.Picked)
    def _picked(self, event: StatusCounts.Picked) -> None:
        self.action_status(event.status or "")

    # -- view -----------------------------------------------------------------------------

    def action_cursor(self, direction: str) -> None:
        if direction == "down":
            self.table.action_cursor_down()
        else:
            self.table.action_cursor_up()

    def action_cycle_sort(self) -> None:
        try:
            i = SORT_CYCLE.index(self.sort)
        except ValueError:
            i = -1
        self.sort = SORT_CYCLE[(i + 1) % len(SORT_CYCLE)]
        self.notify(f"sort: {sort_text(self.sort)}", timeout=2)
        self.load(0)

    def action_sort_path(self) -> None:
        def done(text: str | None) -> None:
            if text is not None:
                from ...sorting import SortError

                try:
                    self.sort = parse_sort(text)
                except SortError as exc:
                    self.notify(exc.message, title="Sort", severity="error", markup=False)
                    return
                self.load(0)

        current = ", ".join(("-" if d else "") + p for p, d in self.sort)
        self.app.push_screen(PromptModal(
            "Sort by", value=current, placeholder="-args.lr, priority",
            help_text="Fields or JSON paths, comma separated; a leading - sorts descending."),
            done)

    def set_columns(self, paths: list[str]) -> None:
        """Show extra columns for these paths (kept while the app runs)."""
        self.extra_columns = list(paths)
        table = self.table
        cursor, row = table.cursor_task_id, table.cursor_row
        table.set_extra_columns(self.extra_columns, self.tasks)
        table.show_tasks(self.tasks, cursor_id=cursor, cursor_row=row)
        self.update_position()

    def action_columns(self) -> None:
        def done(text: str | None) -> None:
            if text is not None:
                self.set_columns(parse_columns(text))
                self.table.focus()

        async def check(text: str) -> tuple[bool, str]:
            try:
                paths = parse_columns(text)
            except ValueError as exc:
                return False, str(exc)
            if not paths:
                return True, "no extra columns"
            task, now = self.cursor_task, self.lt_app.now()
            labels = column_labels(paths)
            if task is None:
                return True, "columns: " + ", ".join(labels)
            values = [f"{label}={column_text(task, path, now) or '—'}"
                      for label, path in zip(labels, paths, strict=True)]
            return True, f"task {task.task_id[:8]}: " + "  ".join(values)

        self.app.push_screen(PromptModal(
            "Extra columns", value=", ".join(self.extra_columns),
            placeholder="args.model, summary.acc", preview=check,
            help_text="JSON paths, comma separated (bare names are args paths); empty removes "
                      "them. V saves them with the view."), done)

    def action_column_picker(self) -> None:
        from ..widgets.task_table import EXTRA_PREFIX as XP
        from ..widgets.task_table import FIELD_OF
        from .columns import ColumnPicker

        table = self.table
        widths = {FIELD_OF.get(str(k.value), str(k.value).removeprefix(XP)): c.width
                  for k, c in table.columns.items()}

        def done(specs: list[str] | None) -> None:
            if specs is not None:
                self.set_columns(specs)
            self.table.focus()

        self.app.push_screen(ColumnPicker(list(self.extra_columns), widths), done)

    def action_show_log(self) -> None:
        from .log_screen import LogScreen

        task = self.cursor_task
        if task is None:
            self.notify("no task selected", severity="warning")
            return
        worker = self.worker_infos.get(task.worker_id) if task.worker_id else None
        self.app.push_screen(LogScreen(task, self.lt_app.log_file(task.task_id), worker))

    def action_toggle_detail(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = not pane.display
        self.update_detail()

    def action_reload(self) -> None:
        self.reload()

    # -- marks ----------------------------------------------------------------------------

    def clear_marks(self) -> None:
        had = set(self.marked) | (set(self.by_id) if self.mark_all is not None else set())
        self.marked.clear()
        self.mark_all = None
        self.mark_all_count = 0
        self.table.refresh_marks(had)
        self.update_position()

    def action_toggle_mark(self) -> None:
        task_id = self.table.cursor_task_id
        if task_id is None:
            return
        if self.mark_all is not None:
            self.notify("all matching tasks are marked; press A to clear the marks")
            return
        self.marked.symmetric_difference_update({task_id})
        self.table.refresh_marks([task_id])
        self.table.action_cursor_down() if self.table.cursor_row < len(self.tasks) - 1 else None
        self.update_position()

    def action_extend_down(self) -> None:
        self._extend(1)

    def action_extend_up(self) -> None:
        self._extend(-1)

    def _extend(self, step: int) -> None:
        """Shift+arrow: mark the cursor task, move, and mark the task reached."""
        if self.mark_all is not None:
            self.notify("all matching tasks are marked; press A to clear the marks")
            return
        first = self.table.cursor_task_id
        if first is None:
            return
        changed = [first]
        self.marked.add(first)
        row = self.table.cursor_row + step
        if 0 <= row < len(self.tasks):
            self.table.move_cursor(row=row)
            reached = self.table.cursor_task_id
            if reached is not None:
                self.marked.add(reached)
                changed.append(reached)
        self.table.refresh_marks(changed)
        self.update_position()

    def action_clear_marks(self) -> None:
        self.clear_marks()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`A Unmark` is in the footer only while something is marked (80 columns are few)."""
        if action == "clear_marks":
            return self.mark_all is not None or bool(self.marked)
        return True

    def action_mark_all(self) -> None:
        """Mark every matching task (also when some are marked already; A clears)."""
        self.marked.clear()
        self.mark_all = self.selection()
        self.mark_all_count = self.total
        self.table.refresh_marks(self.by_id)
        self.update_position()

    # -- targets --------------------------------------------------------------------------

    def targets(self) -> Target | None:
        """What an action acts on: the marks, else the cursor task."""
        if self.mark_all is not None:
            return Target(self.mark_all, self.mark_all_count, "matching")
        if self.marked:
            return Target(Selection(ids=sorted(self.marked)), len(self.marked), "marked")
        task = self.cursor_task
        if task is None:
            self.notify("no task selected", severity="warning")
            return None
        return Target(Selection(ids=[task.task_id]), 1, "cursor", task.task_id)

    async def freeze(self, target: Target) -> Frozen | None:
        """The target's tasks and versions now: what the confirmation shows is applied."""
        try:
            state = await self.store.selection_state(target.sel)
        except Exception as exc:
            self.fail(exc, "Cannot read the selection")
            return None
        if not state:
            self.notify("no task matches any more", severity="warning")
            return None
        return Frozen(target, {k: v for k, (v, _) in state.items()},
                      [k for k, (_, st) in state.items() if st == "running"])

    def after_write(self, message: str, *, clear: bool = True) -> None:
        self.notify(message)
        if clear:
            self.clear_marks()
        self.reload()

    def fail(self, exc: BaseException, title: str) -> None:
        self.notify(_describe(exc), title=title, severity="error", timeout=8)

    # -- actions --------------------------------------------------------------------------

    @work(group="action", exit_on_error=False)
    async def action_delete(self) -> None:
        target = self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        shown, force = dict(frozen.shown), False
        ok = await self.app.push_screen_wait(ConfirmModal(
            f"Delete {frozen.label}? (u undoes it.)", title="Delete", yes="Delete"))
        if not ok:
            return
        if frozen.running:
            r = len(frozen.running)
            of = "it is" if len(shown) == 1 else (f"{r:,} of them {'is' if r == 1 else 'are'}")
            force = await self.app.push_screen_wait(ConfirmModal(
                f"{of} running (a worker is executing {'it' if r == 1 else 'them'}): delete"
                f" {'it' if r == 1 else 'them'} too?", title="Running tasks",
                yes="Delete them too", no="Skip them"))
            if not force:
                for task_id in frozen.running:
                    shown.pop(task_id, None)
                if not shown:
                    self.notify("nothing deleted: the selected tasks are running")
                    return
        try:
            deleted = await self.store.delete(Selection(ids=list(shown)), shown=shown,
                                              force=force)
        except Exception as exc:
            self.fail(exc, "Delete refused" if isinstance(exc, ConflictError)
                      else "Delete failed")
            self.reload()
            return
        skipped = len(frozen.shown) - len(shown)
        self.after_write(f"Deleted {len(deleted):,} task{'s' * (len(deleted) != 1)}"
                         + (f" (skipped {skipped:,} running)" if skipped else ""))

    async def _update(self, frozen: Frozen, compute, verb: str, **kwargs) -> None:
        """Apply ``compute`` to exactly the frozen tasks at their frozen versions, or refuse
        (nothing written) when any of them changed or vanished since the confirmation."""
        sel = Selection(ids=list(frozen.shown))
        try:
            plan = await self.store.update(sel, compute, dry_run=True, **kwargs)
            now = {c.before.task_id: c.before.version for c in plan}
            if now != frozen.shown:
                moved = sum(1 for k, v in frozen.shown.items() if now.get(k) != v)
                raise SelectionChanged(
                    f"selection changed: {moved:,} of the {len(frozen.shown):,} tasks shown"
                    " changed or were deleted since; nothing changed; run again")
            await self.store.apply_update(sel, plan)
        except NotFoundError as exc:
            self.fail(SelectionChanged(f"selection changed: {exc} (deleted since it was"
                                       " shown); nothing changed; run again"), f"{verb} refused")
            self.reload()
            return
        except Exception as exc:
            self.fail(exc, f"{verb} refused" if isinstance(exc, ConflictError)
                      else f"{verb} failed")
            self.reload()
            return
        changed = sum(1 for c in plan if c.changed)
        self.after_write(f"{verb}: {changed:,} of {len(plan):,} task"
                         f"{'s' * (len(plan) != 1)} changed")

    @work(group="action", exit_on_error=False)
    async def action_undo(self, redo: bool = False) -> None:
        """u / U: undo / redo the newest change after a preview (screens/undo.py)."""
        from .undo import run_undo

        await run_undo(self, redo=redo)

    @work(group="action", exit_on_error=False)
    async def action_reset(self) -> None:
        target = self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        if frozen.n > 1 and not await self.app.push_screen_wait(ConfirmModal(
                f"Reset {frozen.label} to pending (retries 0)?", title="Reset", yes="Reset")):
            return
        await self._update(frozen, lambda t: {}, "Reset to pending", reset_pending=True)

    @work(group="action", exit_on_error=False)
    async def action_cancel_tasks(self) -> None:
        target = self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        if frozen.n > 1 and not await self.app.push_screen_wait(ConfirmModal(
                f"Cancel {frozen.label}?", title="Cancel tasks", yes="Cancel them")):
            return
        await self._update(frozen, lambda t: {"status": "cancelled"}, "Cancelled")

    @work(group="action", exit_on_error=False)
    async def action_priority(self) -> None:
        target = self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        label = frozen.label
        current = self.cursor_task.priority if self.cursor_task else 10

        async def check(text: str) -> tuple[bool, str]:
            try:
                int(text)
            except ValueError:
                return False, "priority must be an integer (higher runs first)"
            return True, f"{label} → priority {int(text)}"

        text = await self.app.push_screen_wait(PromptModal(
            f"Priority for {label}", value=str(current), preview=check))
        if text is None:
            return
        value = int(text)
        await self._update(frozen, lambda t: {"priority": value}, "Priority set")

    @work(group="action", exit_on_error=False)
    async def action_assign(self) -> None:
        target = self.targets()
        frozen = None if target is None else await self.freeze(target)
        if frozen is None:
            return
        sel = Selection(ids=list(frozen.shown))

        async def preview(text: str) -> tuple[bool, str]:
            try:
                compute = assignment_compute(text)
                plan = await self.store.update(sel, compute, dry_run=True)
            except (UserError, ValueError) as exc:
                return False, _describe(exc)
            changed = sum(1 for c in plan if c.changed)
            return True, f"{len(plan):,} task{'s' * (len(plan) != 1)}, {changed:,} will change"

        text = await self.app.push_screen_wait(PromptModal(
            f"Assign on {frozen.label}", placeholder="args.lr=0.3 priority=5",
            help_text="field=value pairs; values are Python literals (quote to force a string)",
            preview=preview))
        if not text:
            return
        try:
            compute = assignment_compute(text)
        except (UserError, ValueError) as exc:
            self.fail(exc, "Assign failed")
            return
        await self._update(frozen, compute, "Assigned")

    def action_copy(self) -> None:
        from ..clipboard import submit_line

        task = self.cursor_task
        if task is None:
            self.notify("no task selected", severity="warning")
            return
        self.copy_text(submit_line(task), "submit command")

    def action_copy_ids(self) -> None:
        if self.mark_all is not None:
            self._copy_all_ids()
            return
        if not self.marked:
            self.notify("no marked tasks: mark with space, shift+arrows or a",
                        severity="warning")
            return
        ids = [t.task_id for t in self.tasks if t.task_id in self.marked]
        ids += sorted(self.marked - set(ids))
        self.copy_text("\n".join(ids) + "\n", f"{len(ids):,} task id{'s' * (len(ids) != 1)}")

    @work(group="copy", exit_on_error=False)
    async def _copy_all_ids(self) -> None:
        assert self.mark_all is not None
        try:
            state = await self.store.selection_state(self.mark_all)
        except Exception as exc:
            self.fail(exc, "Cannot read the marked tasks")
            return
        self.copy_text("\n".join(state) + "\n",
                       f"{len(state):,} task id{'s' * (len(state) != 1)}")

    @work(group="copy", exit_on_error=False)
    async def copy_text(self, text: str, what: str) -> None:
        """OSC 52 and a local fallback (tmux buffer, clipboard tool); says which worked."""
        import asyncio

        from ..clipboard import copy_local, copy_report

        self.app.copy_to_clipboard(text)
        local, why = await asyncio.to_thread(copy_local, text)
        shown = text if len(text) <= 400 else text[:400] + "…"
        self.notify(shown, title=f"Copied {what}: {copy_report(local, why)}",
                    severity="information" if local else "warning", timeout=8)

    def action_submit(self) -> None:
        from .submit import SubmitScreen

        def done(ids: list[str] | None) -> None:
            if ids:
                self.notify(f"Submitted task {ids[0]}")
                self.load(0, cursor_id=ids[0])

        self.app.push_screen(SubmitScreen(self.store), done)

    @work(group="action", exit_on_error=False)
    async def action_edit(self) -> None:
        target = self.targets()
        if target is None:
            return
        await self.open_editor(target.sel)

    async def open_editor(self, sel: Selection) -> int | None:
        """Open the in-app editor on ``sel``: tasks saved (0 = none changed), None = cancelled."""
        from .editor import EditorScreen

        try:
            tasks = await self.store.list(sel, sort=self.sort, limit=EDIT_LIMIT + 1)
        except Exception as exc:
            self.fail(exc, "Cannot open the editor")
            return None
        if not tasks:
            self.notify("no tasks to edit", severity="warning")
            return None
        if len(tasks) > EDIT_LIMIT:
            tasks = tasks[:EDIT_LIMIT]
            self.notify(f"editing the first {EDIT_LIMIT} tasks only", severity="warning")
        saved = await self.app.push_screen_wait(EditorScreen(self.store, tasks))
        if saved:
            self.after_write(f"Saved {saved} task{'s' * (saved != 1)}")
        return saved


@dataclass
class Target:
    """What an action acts on, as the user chose it (``kind``: matching, marked, cursor)."""

    sel: Selection
    n: int
    kind: str
    task_id: str | None = None

    def label(self, n: int | None = None) -> str:
        n = self.n if n is None else n
        if self.kind == "cursor" and n == 1 and self.task_id:
            return f"task {self.task_id[:8]}"
        return f"{n:,} {self.kind} task{'s' * (n != 1)}"


@dataclass
class Frozen:
    """The target's tasks at their versions when the confirmation was shown: a confirmed
    action applies to exactly these or refuses (nothing written)."""

    target: Target
    shown: dict[str, int]
    running: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.shown)

    @property
    def label(self) -> str:
        return self.target.label(self.n)


def assignment_compute(text: str):
    """`args.lr=0.3 priority=5` -> compute(task) -> changes for store.update."""
    tokens = shlex.split(text)
    if not tokens:
        raise UserError("nothing to assign: write field=value, e.g. args.lr=0.3")
    for tok in tokens:
        if "=" not in tok:
            raise UserError(f"not an assignment: {tok!r} (expected field=value)")
    try:
        from ...args import apply_assignments
    except ImportError:
        apply_assignments = _apply_assignments

    def compute(task: Task) -> dict[str, Any]:
        return apply_assignments(task.model_dump(), tokens, reset_pending=False)

    return compute


def _apply_assignments(task: dict[str, Any], tokens: list[str], reset_pending: bool = False
                       ) -> dict[str, Any]:
    """Fallback while labtasker_tui.args is absent: `a.b=literal` -> whole top-level field."""
    import ast
    import copy

    changes: dict[str, Any] = {}
    for tok in tokens:
        key, _, raw = tok.partition("=")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        head, *rest = key.split(".")
        if not rest:
            changes[head] = value
            continue
        root = copy.deepcopy(changes.get(head, task.get(head) or {}))
        node = root
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value
        changes[head] = root
    return changes


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UserError | StoreError | ConflictError):
        return str(exc)
    if hasattr(exc, "render") and hasattr(exc, "message"):
        return str(exc.message)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
