"""The task list's view of the tasks: sort, extra columns and saved views (a mixin of
TaskListScreen; ``task_list.py`` holds the screen)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from ..cells import FIELD_OF, column_labels, column_text, parse_columns
from ..errors import EXPECTED, message
from ..widgets.filter_bar import FilterBar
from ..widgets.task_table import EXTRA_PREFIX, NEWEST_FIRST, SORT_PATHS
from .prompt import PromptModal

if TYPE_CHECKING:
    from textual.app import App

    from ...models import Task
    from ...store.task_store import TaskStore
    from ..app import LabtaskerApp
    from ..widgets.task_table import TaskTable

SORT_CYCLE: list[list[tuple[str, bool]]] = [
    [],
    [("priority", True)],
    [("created_at", True)],
    [("last_modified", True)],
    [("task_name", False)],
    [("status", False)],
]


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


class ViewActions:
    """Sort, columns and saved views: what the list shows, not what it changes."""

    if TYPE_CHECKING:  # what the screen provides
        app: App
        lt_app: LabtaskerApp
        store: TaskStore
        table: TaskTable
        tasks: list[Task]
        cursor_task: Task | None
        where: Any
        filter_text: str
        sort: list[tuple[str, bool]]
        status: str | None
        view: Any
        revision: int
        extra_columns: list[str]

        def notify(self, message: str, *, title: str = "", severity: Any = "information",
                   timeout: float | None = None, markup: bool = False) -> None: ...
        def fail(self, exc: BaseException, title: str) -> None: ...
        def clear_marks(self) -> None: ...
        def load(self, offset: int, **kwargs: Any) -> None: ...
        def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...

    def sort_by_column(self, key: str) -> None:
        """A click on a column header: sort by it (again: reverse)."""
        path = key.removeprefix(EXTRA_PREFIX) if key.startswith(EXTRA_PREFIX) \
            else SORT_PATHS.get(key)
        if path is None:
            self.notify("sort by args or summary with S (e.g. -args.lr)")
            return
        if self.sort and self.sort[0][0] == path:
            self.sort = [(path, not self.sort[0][1])]
        else:
            self.sort = [(path, path in NEWEST_FIRST)]
        self.load(0)

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
        self.revision += 1

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
        from .columns import ColumnPicker

        table = self.table
        widths = {FIELD_OF.get(str(k.value), str(k.value).removeprefix(XP)): c.width
                  for k, c in table.columns.items()}

        def done(specs: list[str] | None) -> None:
            if specs is not None:
                self.set_columns(specs)
            self.table.focus()

        self.app.push_screen(ColumnPicker(list(self.extra_columns), widths), done)

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
        except EXPECTED as exc:
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
        except Exception as exc:  # noqa: BLE001 - a stored filter is user input: a parser
            # or compiler fault is reported, the list stays as it was
            self.notify(message(exc), title=f"View {view.name}", severity="error")
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
        except EXPECTED as exc:
            self.fail(exc, "Cannot save the view")
            return
        self.view = view
        self.notify(f"{'Replaced' if replaced else 'Saved'} view {name}")
