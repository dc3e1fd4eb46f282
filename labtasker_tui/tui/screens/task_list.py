"""The main screen: filter bar, status counts, a window of tasks, detail pane, actions.

Its parts live beside it: the window and its loading (``tui/task_window.py``), the marks
(``tui/marks.py``), the actions that write tasks (``bulk_actions.py``), the keys
(``tui/actions.py``, the registry) and the keys typed ahead of an input (``tui/typeahead.py``).
The position line is derived: ``compute_position`` reads the reactive state, and
``revision`` is bumped when the window or the marks change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from ...models import Task
from ...store.task_store import Selection
from ...store.workers import fetch_workers
from .. import history
from ..actions import in_scope
from ..bindings import bindings
from ..errors import EXPECTED, ReportsWorkerErrors, message
from ..marks import Frozen, Marks, Target
from ..markup import PlainNotify, esc
from ..task_window import TaskWindow, WindowRequest, fetch_window
from ..typeahead import TYPE_AHEAD_WAIT, TypeAheadHost, send_key, swallow, via_input
from ..widgets.detail_pane import DetailPane
from ..widgets.eta_line import EtaLine
from ..widgets.filter_bar import FilterBar
from ..widgets.status_counts import StatusCounts
from ..widgets.task_table import TaskTable
from .bulk_actions import EDIT_LIMIT, BulkActions, assignment_compute
from .eta_status import EtaStatus, stalled_after
from .list_views import ViewActions, compile_where, parse_sort, sort_text

if TYPE_CHECKING:
    from ..app import LabtaskerApp

__all__ = ["EDIT_LIMIT", "LOAD_TAG", "TYPE_AHEAD_WAIT", "WINDOW", "Frozen", "Selection",
           "Target", "TaskListScreen", "assignment_compute", "compile_where", "parse_sort",
           "sort_text"]

WINDOW = 200
LOAD_TAG = "tui-load"  # the reads of loads and counts: a new load interrupts them
#: actions that open an input, a modal or another screen: the keys typed right after their
#: key belong to what they open (``opens`` in the registry)
OPENING_ACTIONS = {spec.action for spec in in_scope("task_list") if spec.opens}


class TaskListScreen(ReportsWorkerErrors, PlainNotify, TypeAheadHost, BulkActions, ViewActions,
                     EtaStatus, Screen):
    """Shows a window of ≤ WINDOW tasks from the store and acts on them."""

    ACTION_SCOPE = "task_list"
    BINDINGS = bindings(ACTION_SCOPE)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    # the state the position line shows (compute_position derives the line from it)
    filter_text: var[str] = var("", init=False)
    sort: var[list[tuple[str, bool]]] = var(list, init=False)
    status: var[str | None] = var(None, init=False)
    error: var[str | None] = var(None, init=False)
    pending_changes: var[bool] = var(False, init=False)
    view: var[Any] = var(None, init=False)  # the saved view last loaded or saved
    revision: var[int] = var(0, init=False)  # bumped when the window or the marks change
    position: var[str] = var("", init=False)

    def __init__(self, *, filter_text: str = "", status: str | None = None,
                 ids: list[str] | None = None,
                 sort: list[tuple[str, bool]] | None = None) -> None:
        super().__init__()
        self.set_reactive(TaskListScreen.filter_text, filter_text)
        self.set_reactive(TaskListScreen.status, status)
        self.set_reactive(TaskListScreen.sort, list(sort or []))
        self.where: Any = None
        self.ids = ids
        self.win = TaskWindow()
        self.marks = Marks()
        self.extra_columns: list[str] = []
        self.worker_infos: dict[str, Any] = {}  # worker_id -> WorkerInfo of running tasks shown
        self._opening_keys: set[str] | None = None
        self._footer_marks = False  # whether the footer shows `A Unmark`

    @property
    def lt_app(self) -> LabtaskerApp:
        return self.app  # type: ignore[return-value]

    @property
    def store(self):
        return self.lt_app.store

    # the window's and the marks' state, by the names the rest of the app reads
    tasks = property(lambda self: self.win.tasks)
    by_id = property(lambda self: self.win.by_id)
    win_offset = property(lambda self: self.win.offset)
    total = property(lambda self: self.win.total)
    total_known = property(lambda self: self.win.total_known)
    loaded_once = property(lambda self: self.win.loaded_once)
    seq = property(lambda self: self.win.seq)
    load_gen = property(lambda self: self.win.gen)
    marked = property(lambda self: self.marks.ids)
    mark_all = property(lambda self: self.marks.all_matching)
    mark_all_count = property(lambda self: self.marks.all_count)

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title-bar")
        yield FilterBar(id="filter-bar")
        with Horizontal(id="body"):
            yield StatusCounts(id="status-counts")
            with Vertical(id="table-column"):
                yield TaskTable(id="task-table")
                yield Static("", id="position")
                yield EtaLine(id="eta-line")
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
        table.is_marked = self.marks.is_marked
        table.stalled_after = stalled_after()
        self.query_one(DetailPane).display = False
        bar = self.query_one(FilterBar)
        bar.set_applied(self.filter_text)
        self._set_history(history.load(self.lt_app.url))
        self.query_one("#title-bar", Static).update(self.lt_app.title_text())
        try:
            self.where = compile_where(self.filter_text, self.store.dialect)
        except Exception as exc:  # noqa: BLE001 - the filter given at start is user input:
            # a parser or compiler fault shows in the position line, the list still opens
            self.error = f"filter: {message(exc)}"
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
        return self.marks.is_marked(task_id)

    @property
    def cursor_task(self) -> Task | None:
        task_id = self.table.cursor_task_id
        return self.by_id.get(task_id) if task_id else None

    def compute_position(self) -> str:
        """The position line, from the window, the marks and the reactive state."""
        self.revision  # noqa: B018 - read so that a bump recomputes the line
        if self.error:
            text = f"[b]Error:[/b] {esc(self.error)}"
        elif not self.win.tasks:
            text = "no tasks match" if self.win.loaded_once else "loading…"
        else:
            text = self.win.rows_text()
        parts = [text, f"sort: {esc(sort_text(self.sort))}"]
        if self.status:
            parts.append(f"status: {esc(self.status)}")
        if marks := self.marks.text():
            parts.append(marks)
        if self.pending_changes:
            parts.append("changes waiting (ctrl+home or ctrl+r)")
        if self.view is not None:
            parts.append(f"view: {esc(self.view.name)}"
                         + (" (modified)" if self.view_modified() else ""))
        return "  ·  ".join(parts)

    def watch_position(self, text: str) -> None:
        for line in self.query("#position").results(Static):
            line.update(text)
        if bool(self.marks) != self._footer_marks:  # `A Unmark` comes and goes
            self._footer_marks = not self._footer_marks
            self.refresh_bindings()

    def update_position(self) -> None:
        """Recompute the position line now (it also follows every state change itself)."""
        self.revision += 1

    # -- loading --------------------------------------------------------------------------

    def load(self, offset: int, **kwargs: Any) -> None:
        """Show the window at ``offset`` (see :class:`WindowRequest`). A newer load
        supersedes this one: its SQLite statements are interrupted (not cancelled: a
        cancelled aiosqlite read would keep running in its thread, and the connection
        would be torn down)."""
        gen = self.win.begin()
        self.store.interrupt_reads(LOAD_TAG)
        self._load(gen, WindowRequest(offset, **kwargs))

    @work(group="load", exit_on_error=False)
    async def _load(self, gen: int, req: WindowRequest) -> None:
        """Fetch a window; the total and the status counts follow in :meth:`load_counts`,
        so they never hold back the rows."""
        table = self.table
        timer = self.set_timer(0.25, lambda: setattr(table, "loading", True))
        try:
            sel = self.selection()
            fetched = await fetch_window(self.store, sel, self.sort, req, window=WINDOW,
                                         read=self._read)
            workers = await self._read(fetch_workers(
                self.store, [t.worker_id for t in fetched.tasks if t.worker_id]))
            runs = await self.read_runs(fetched.tasks)
        except EXPECTED as exc:
            if self.win.is_current(gen):  # else superseded (interrupted): the newer reports
                self.error = message(exc)
                self.notify(self.error, title="Cannot load tasks", severity="error")
            return
        finally:
            timer.stop()
            if self.win.is_current(gen):
                table.loading = False
        if not self.win.is_current(gen):
            return
        self.error = None
        self.pending_changes = False
        self.win.accept(fetched, req.size or WINDOW)
        self.worker_infos = table.worker_infos = workers
        table.runs = runs
        cursor_row = len(fetched.tasks) - 1 if req.to_end else req.cursor_row
        table.show_tasks(fetched.tasks, cursor_id=req.cursor_id, cursor_row=cursor_row)
        self.revision += 1
        self.update_detail()
        self.load_counts(gen, sel, need_total=fetched.total is None)

    @work(group="load", exit_on_error=False)
    async def load_counts(self, gen: int, sel: Selection, *, need_total: bool) -> None:
        """The total and the per-status counts of the selection (superseded by a new load)."""
        try:
            total = await self._read(self.store.count(sel)) if need_total else None
            if not self.win.is_current(gen):
                return
            counts = await self._read(self.store.count_by_status(self.selection(with_status=False)))
        except EXPECTED as exc:  # the rows are shown; say what is missing
            if self.win.is_current(gen):
                self.notify(message(exc), title="Cannot count tasks", severity="warning")
            return
        if not self.win.is_current(gen):
            return
        if total is not None:
            self.win.set_total(total)
            if self.marks.all_matching is not None:
                self.marks.all_count = total
        self.query_one(StatusCounts).show(counts, self.status)
        self.refresh_eta(self.selection(with_status=False), counts, (self.filter_text, self.ids))
        self.revision += 1

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
        except EXPECTED:  # the next poll tries again; a load reports lasting trouble
            return
        if self.seq is None or seq == self.seq:
            return
        if self.win.at_top:
            self.reload()
        else:
            self.pending_changes = True

    @on(TaskTable.EdgeReached)
    def _edge(self, event: TaskTable.EdgeReached) -> None:
        if event.direction == "first":
            self.action_top()
        elif event.direction == "last":
            self.action_bottom()
        elif (req := self.win.edge_request(event.direction, WINDOW)) is not None:
            self.store.interrupt_reads(LOAD_TAG)
            self._load(self.win.begin(), req)

    def action_top(self) -> None:
        if self.win.at_top and not self.pending_changes:
            self.table.move_cursor(row=0)
        else:
            self.load(0, cursor_row=0)

    def action_bottom(self) -> None:
        if self.win.at_bottom and not self.pending_changes:
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
            pane.show_task(task, worker, self.lt_app.now(),
                           self.table.runs.get(task.task_id) if task else None,
                           self.table.stalled_after)

    def tick(self) -> None:
        """The run time of running tasks is a clock: re-render it every second."""
        if self.app.screen is self and any(t.status == "running" for t in self.tasks):
            self.table.refresh_elapsed(self.tasks)
        self.eta_tick()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by_column(str(event.column_key.value))

    # -- filter ---------------------------------------------------------------------------

    def action_filter(self) -> None:
        # synchronously: the keys typed right after / must find the input focused
        self.set_focus(self.query_one(FilterBar).input)

    def opening_keys(self) -> set[str]:
        """The keys (after the user's remaps) of actions that open an input or a screen."""
        if self._opening_keys is None:
            self._opening_keys = {key for key, active in self.active_bindings.items()
                                  if active.binding.action in OPENING_ACTIONS}
        return self._opening_keys

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
        if not isinstance(self.focused, Input) and event.key in self.opening_keys():
            if self.active_bindings[event.key].binding.action == "filter":
                swallow(event)
                self.action_filter()
                return
            self.hold_keys()  # the binding runs next and opens the modal

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
        except Exception as exc:  # noqa: BLE001 - the filter is user input: a parser or
            # compiler fault is reported, the list stays as it was
            self.notify(message(exc), title="Filter", severity="error")
            return False
        if text.strip():  # kept for the next session on this database
            self._set_history(history.remember(self.lt_app.url, text.strip()))
        self.filter_text = text
        self.clear_marks()
        self.table.focus()
        self.load(0)
        return True

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

    def action_show_log(self) -> None:
        from .log_screen import LogScreen

        task = self.cursor_task
        if task is None:
            self.notify("no task selected", severity="warning")
            return
        worker = self.worker_infos.get(task.worker_id) if task.worker_id else None
        self.app.push_screen(LogScreen(task, self.lt_app.log_file(task.task_id), worker))

    def action_results(self) -> None:
        """R: the list's tasks grouped by swept parameters (screens/results.py); Enter there
        comes back filtered to a group."""
        from ...results_model import spec_from_columns
        from .results import ResultsScreen

        def done(text: str | None) -> None:
            if text is not None:
                self.query_one(FilterBar).set_applied(text)
                self.apply_filter(text)
            self.table.focus()

        by, metrics = spec_from_columns(self.extra_columns)
        self.app.push_screen(ResultsScreen(
            self.store, self.filter_text, self.selection(), by=by, metrics=metrics,
            list_sort=self.sort, title=self.lt_app.title_text() + "  ·  [b]results[/b]"), done)

    def action_toggle_detail(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = not pane.display
        self.update_detail()

    def action_reload(self) -> None:
        self.reload()

    # -- marks ----------------------------------------------------------------------------

    def clear_marks(self) -> None:
        self.table.refresh_marks(self.marks.clear(self.by_id))
        self.revision += 1

    def _all_marked_notice(self) -> bool:
        if self.marks.all_matching is not None:
            self.notify("all matching tasks are marked; press A to clear the marks")
            return True
        return False

    def action_toggle_mark(self) -> None:
        task_id = self.table.cursor_task_id
        if task_id is None or self._all_marked_notice():
            return
        self.marks.toggle(task_id)
        self.table.refresh_marks([task_id])
        self.table.action_cursor_down() if self.table.cursor_row < len(self.tasks) - 1 else None
        self.revision += 1

    def action_extend_down(self) -> None:
        self._extend(1)

    def action_extend_up(self) -> None:
        self._extend(-1)

    def _extend(self, step: int) -> None:
        """Shift+arrow: mark the cursor task, move, and mark the task reached."""
        if self._all_marked_notice():
            return
        first = self.table.cursor_task_id
        if first is None:
            return
        changed = [first]
        row = self.table.cursor_row + step
        if 0 <= row < len(self.tasks):
            self.table.move_cursor(row=row)
            if (reached := self.table.cursor_task_id) is not None:
                changed.append(reached)
        self.marks.add(*changed)
        self.table.refresh_marks(changed)
        self.revision += 1

    def action_clear_marks(self) -> None:
        self.clear_marks()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`A Unmark` is in the footer only while something is marked (80 columns are few)."""
        if action == "clear_marks":
            return bool(self.marks)
        return True

    def action_mark_all(self) -> None:
        """Mark every matching task (also when some are marked already; A clears)."""
        self.marks.mark_all(self.selection(), self.total)
        self.table.refresh_marks(self.by_id)
        self.revision += 1

    # -- copying --------------------------------------------------------------------------

    def action_copy(self) -> None:
        from ..clipboard import submit_line

        task = self.cursor_task
        if task is None:
            self.notify("no task selected", severity="warning")
            return
        self.copy_text(submit_line(task), "submit command")

    def action_copy_ids(self) -> None:
        if self.marks.all_matching is not None:
            self._copy_all_ids()
            return
        if not self.marks.ids:
            self.notify("no marked tasks: mark with space, shift+arrows or a",
                        severity="warning")
            return
        ids = self.marks.ordered_ids([t.task_id for t in self.tasks])
        self.copy_text("\n".join(ids) + "\n", f"{len(ids):,} task id{'s' * (len(ids) != 1)}")

    @work(group="copy", exit_on_error=False)
    async def _copy_all_ids(self) -> None:
        assert self.marks.all_matching is not None
        try:
            state = await self.store.selection_state(self.marks.all_matching)
        except EXPECTED as exc:
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
