"""`R`: the list's tasks grouped by swept parameters (the `results` command's table).

Opened on the list's filter (and status filter). The grouping follows the list's extra
columns when they name any (``results_model.spec_from_columns``: args/metadata paths group,
summary paths are the metrics), else the defaults (every varying args path but the seed-like
ones; every numeric summary path). ``b`` and ``m`` change it, ``s`` sorts by the column under
the cursor (again: reverse; a header click does the same), Enter goes back to the list
filtered to the group (the filter AND the group's ``path == value`` conditions), ``V`` saves
the filter with the grouping as a view (its columns: the by paths then the metrics), Escape
goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...results_model import (
    Results,
    cell_text,
    column_label,
    column_names,
    excluded_text,
    sort_groups,
)
from ...safe_text import inert
from ..bindings import bindings
from ..errors import EXPECTED, ReportsWorkerErrors, message
from ..markup import PlainNotify, esc

if TYPE_CHECKING:
    from ...store.task_store import Selection, TaskStore
    from ..app import LabtaskerApp

RESULTS_TAG = "tui-results"  # its reads: closing the screen interrupts them
#: rows the table shows at most (a path with a distinct value per task makes a group per task)
MAX_ROWS = 2000


class ResultsScreen(ReportsWorkerErrors, PlainNotify, Screen[str | None]):
    """Dismisses with the filter of the group chosen with Enter, or None (Escape)."""

    ACTION_SCOPE = "results"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, store: TaskStore, filter_text: str, sel: Selection | None, *,
                 by: list[str] | None = None, metrics: list[str] | None = None,
                 title: str = "", list_sort: list[tuple[str, bool]] | None = None) -> None:
        super().__init__()
        self.store = store
        self.filter_text = filter_text
        self.sel = sel
        self.by = by
        self.metrics = metrics
        self.best = "max"
        self.title_markup = title
        self.list_sort = list(list_sort or [])
        self.results: Results | None = None
        self.shown: list[Any] = []  # the groups in table order
        self.sort_column: str | None = None
        self.descending = False
        self.error: str | None = None

    @property
    def lt_app(self) -> LabtaskerApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(self.title_markup, id="results-title")
        yield Static("grouping…", id="results-info")
        yield DataTable(id="results-table", cursor_type="cell", zebra_stripes=True)
        yield Static("", id="results-status")
        yield Footer()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#results-table", DataTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.load()

    def on_unmount(self) -> None:
        self.store.interrupt_reads(RESULTS_TAG)

    # -- loading ----------------------------------------------------------------------------

    @work(group="results", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        from ...store.results import compute_results

        self.table.loading = True
        try:
            res = await self.lt_app.db_task(compute_results(
                self.store, self.sel, by=self.by, metrics=self.metrics, best=self.best),
                RESULTS_TAG)
        except EXPECTED as exc:
            self.error = message(exc)
            self.query_one("#results-info", Static).update(f"[b]Error:[/b] {esc(self.error)}")
            self.notify(self.error, title="Cannot group the tasks", severity="error")
            return
        finally:
            self.table.loading = False
        self.error = None
        self.results = res
        if self.sort_column is not None and self.sort_column not in column_names(res):
            self.sort_column = None
        self.show()

    def show(self, keep: tuple[int, int] | None = None) -> None:
        """Fill the table from the results in the current order."""
        res = self.results
        if res is None:
            return
        table = self.table
        names = column_names(res, shown=True)
        table.clear(columns=True)
        for name in names:
            label = column_label(res, name)
            if name == self.sort_column:
                label += " ▼" if self.descending else " ▲"
            table.add_column(Text(inert(label)), key=name)
        self.shown = sort_groups(res, self.sort_column, descending=self.descending)
        for i, g in enumerate(self.shown[:MAX_ROWS]):
            table.add_row(*(Text(inert(cell_text(res, g, c)),
                                 justify="left" if c in res.by else "right") for c in names),
                          key=str(i))
        if keep is not None and self.shown:
            table.move_cursor(row=min(keep[0], len(self.shown) - 1), column=keep[1])
        self.query_one("#results-info", Static).update(esc(self.info_text(res)))
        status = excluded_text(res)
        if len(self.shown) > MAX_ROWS:
            status.insert(0, f"showing the first {MAX_ROWS:,} of {len(self.shown):,} groups "
                             "(s sorts them all; b groups by fewer paths)")
        if not res.metrics:
            status.append("no numeric summary metric in these tasks (m names one)")
        self.query_one("#results-status", Static).update(esc("  ·  ".join(status)))

    def info_text(self, res: Results) -> str:
        groups = len(res.groups)
        parts = [f"{res.total:,} task{'s' * (res.total != 1)} in {groups:,} group"
                 f"{'s' * (groups != 1)}",
                 "by " + (", ".join(res.by) if res.by else "(nothing: one group)")]
        if res.over:
            parts.append("over " + ", ".join(res.over))
        if res.metrics:
            parts.append(f"best = {res.best}")
        parts.append(f"filter: {self.filter_text.strip() or '(all tasks)'}")
        if self.sel is not None and self.sel.status:
            parts.append(f"status: {self.sel.status}")
        return "  ·  ".join(parts)

    # -- actions ----------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_sort(self) -> None:
        """Sort by the column under the cursor (again: reverse)."""
        res = self.results
        if res is None or not self.table.columns:
            return
        keys = list(self.table.columns)
        self.sort_by(str(keys[min(self.table.cursor_column, len(keys) - 1)].value))

    def sort_by(self, column: str) -> None:
        if self.sort_column == column:
            self.descending = not self.descending
        else:
            # counts and means read best from the top: descending first
            self.sort_column, self.descending = column, column not in (self.results.by
                                                                      if self.results else [])
        self.show(keep=(0, self.table.cursor_column))

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_open_group(self, row: int | None = None) -> None:
        """Back to the list, filtered to the group under the cursor (``row``: the one the
        table's Enter selected)."""
        from ...store.results import group_filter

        res = self.results
        row = self.table.cursor_row if row is None else row
        if res is None or not self.shown or not 0 <= row < min(len(self.shown), MAX_ROWS):
            return
        self.dismiss(group_filter(self.filter_text, res.by, list(self.shown[row].values)))

    @on(DataTable.CellSelected)
    def _selected(self, event: DataTable.CellSelected) -> None:
        # Enter reaches the table in order after the keys typed before it (a priority
        # binding would run ahead of queued cursor moves and open the wrong group)
        self.action_open_group(event.coordinate.row)

    def action_toggle_best(self) -> None:
        self.best = "min" if self.best == "max" else "max"
        self.notify(f"best = {self.best} (the {'lowest' if self.best == 'min' else 'highest'}"
                    " value)", timeout=2)
        self.load()

    def action_group_by(self) -> None:
        self._ask_paths("Group by", self.by, "args.lr, args.model",
                        "Paths, comma separated; empty: every args path that varies (seed-like "
                        "ones are averaged over).", "by")

    def action_metrics(self) -> None:
        self._ask_paths("Metrics", self.metrics, "summary.acc, summary.loss",
                        "JSON paths, comma separated; empty: every numeric summary path.",
                        "metrics")

    def _ask_paths(self, title: str, current: list[str] | None, placeholder: str,
                   help_text: str, attr: str) -> None:
        from ...store.results import ResultsError, parse_paths
        from .prompt import PromptModal

        def split(text: str) -> list[str] | None:
            paths = [p.strip() for p in text.split(",") if p.strip()]
            return paths or None

        async def check(text: str) -> tuple[bool, str]:
            try:
                paths = parse_paths(split(text) or [], title.lower(),
                                    json_only=attr == "metrics")
            except ResultsError as exc:
                return False, exc.user_message
            return True, ", ".join(paths) if paths else "the defaults"

        def done(text: str | None) -> None:
            if text is not None:
                setattr(self, attr, split(text))
                self.load()
            self.table.focus()

        self.app.push_screen(PromptModal(title, value=", ".join(current or []),
                                         placeholder=placeholder, help_text=help_text,
                                         preview=check), done)

    @work(group="action", exit_on_error=False)
    async def action_save_view(self) -> None:
        """Save the filter and the grouping as a view: its columns are the by paths, then
        the metrics (the list shows them; R on that view groups the same way)."""
        from ...store.views import VIEW_NAME, View, save_view
        from .prompt import PromptModal

        res = self.results
        if res is None:
            return
        columns = [*res.by, *res.metrics]

        async def check(name: str) -> tuple[bool, str]:
            if not VIEW_NAME.match(name):
                return False, "letters, digits, '_', '-' or '.'"
            return True, f"filter: {self.filter_text or '(all tasks)'}  ·  columns: " \
                         f"{', '.join(columns) or '(none)'}"

        name = await self.app.push_screen_wait(PromptModal(
            "Save the grouping as a view", placeholder="sweep-results", preview=check,
            help_text="A view holds the filter, the list's sort and columns: here the "
                      "grouping's paths, then the metrics. R on that view groups the same "
                      "way."))
        if not name:
            return
        view = View(name=name, filter=self.filter_text, sort=self.list_sort, columns=columns)
        try:
            replaced = await save_view(self.store, view)
        except EXPECTED as exc:
            self.notify(message(exc), title="Cannot save the view", severity="error")
            return
        self.notify(f"{'Replaced' if replaced else 'Saved'} view {name}")
