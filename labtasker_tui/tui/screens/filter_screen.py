"""The filter screen: compose a filter in either syntax and see what it matches while typing.

Left: the editor (Enter applies, ctrl+j new line), the parser's caret message, the match count
by status. Right: the Mongo form (or the Python form of a Mongo filter) and the SQL. Below, in
tabs: the first matching rows, facet counts (press a value to AND its condition), worked
examples and the history of applied filters. Queries run debounced in exclusive workers, so a
newer keystroke cancels the older query and typing never waits for the database.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import (
    Button,
    Collapsible,
    DataTable,
    Footer,
    Input,
    Label,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.option_list import Option

from ...fields import TABLE_COLUMNS
from ...lifecycle import STATUSES
from ...safe_text import inert
from ...store.task_store import Selection
from ..bindings import bindings
from ..cells import compact_pairs, short_id, summary_highlights
from ..errors import EXPECTED, ReportsWorkerErrors
from ..errors import message as describe_message
from ..markup import PlainNotify, esc
from ..typeahead import TypeAhead, tag
from ..widgets.theme_colors import STATUS_VARIABLES

if TYPE_CHECKING:
    from ...store.task_store import TaskStore

DEBOUNCE = 0.3
PREVIEW_ROWS = 10
#: the preview's columns (keys of ``fields.TABLE_COLUMNS``) and their widths here
PREVIEW_WIDTHS = {"id": 8, "status": 9, "name": 14, "args": 44, "summary": 24}
EXAMPLES: list[tuple[str, str]] = [
    ("status == 'failed'", "one status"),
    ("args.model == 'vit' and args.lr > 0.001", "AND of conditions"),
    ("args.model in ['vit', 'resnet']", "any of a list"),
    ("'ablation' in list(metadata.tags)", "an element of an array"),
    ("summary.acc > 0.9 and exists(summary.loss)", "a summary value, a key that exists"),
    ("exists(summary.acc, False)", "a key that is missing"),
    ("regex(task_name, '^grid-')", "a regular expression"),
    ("created_at >= date('1 day ago')", "a date, absolute or relative"),
    ("args.a * 2 <= summary.x", "arithmetic between fields"),
    ('{"args.lr": {"$exists": true, "$ne": 0.1}}', "Mongo syntax: negation made explicit"),
]


def one_line(text: str) -> str:
    """The filter on one line (newlines are only layout in both syntaxes)."""
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def is_mongo(text: str) -> bool:
    from ...query import is_mongo_document

    return is_mongo_document(text)


class FilterEditor(TextArea):
    """A TextArea where Enter (or ctrl+enter) submits and ctrl+j inserts a new line."""

    class Submitted(Message):
        pass

    async def _on_key(self, event: Any) -> None:
        tag(event)
        if event.key in ("enter", "ctrl+enter"):
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted())
            return
        if event.key == "ctrl+j":
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)


def _language_for(text: str) -> str | None:
    """json for Mongo text; python when its grammar is installed (else plain text)."""
    if is_mongo(text):
        return "json"
    try:
        import tree_sitter_python  # noqa: F401
    except ImportError:  # an optional extra (textual[syntax]): plain text without it
        return None
    return "python"


class FilterScreen(ReportsWorkerErrors, PlainNotify, TypeAhead, Screen[str | None]):
    """Dismisses with the filter text to apply (one line), or None when cancelled."""

    ACTION_SCOPE = "filter"
    BINDINGS: ClassVar = bindings(ACTION_SCOPE)

    def __init__(self, store: TaskStore, text: str = "", *,
                 sort: list[tuple[str, bool]] | None = None,
                 history: list[str] | None = None, title: str = "") -> None:
        super().__init__()
        self.store = store
        self.initial = text
        self.sort = list(sort or [])
        self.history = history if history is not None else []
        self.title_text = title
        self.valid = True
        self.compiled: Any = None
        self.facet_path: str | None = None
        self.facet_entries: list[Any] = []
        self.paths: list[str] = []
        self._timer: Timer | None = None
        self.generation = 0  # bumps on every edit; stale results are dropped

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self.title_text or " Filter", id="fs-title")
        with Horizontal(id="fs-top"):
            with Vertical(id="fs-left"):
                with Horizontal(id="fs-toolbar"):
                    yield Label("", id="fs-syntax")
                    yield Button("Python ⇄ Mongo", id="fs-toggle", compact=True)
                    yield Button("Apply", id="fs-apply", variant="primary", compact=True)
                yield FilterEditor(self.initial, id="fs-text", language=_language_for(
                    self.initial), soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
                yield Static("", id="fs-message")
                yield Static("", id="fs-counts")
            with Vertical(id="fs-right"):
                yield Label("", id="fs-form-title", classes="fs-heading")
                yield Static("", id="fs-form")
                with Collapsible(title="SQL (F7)", collapsed=True, id="fs-sql-box"):
                    yield Static("", id="fs-sql")
        with TabbedContent(id="fs-tabs", initial="matches"):
            with TabPane("Matches", id="matches"):
                yield DataTable(id="fs-preview", cursor_type="row", zebra_stripes=True)
            with TabPane("Facets (F3)", id="facets"):
                with Horizontal(id="fs-facets"):
                    with Vertical(id="fs-path-column"):
                        yield Input(placeholder="path, e.g. args.model", id="fs-path")
                        yield OptionList(id="fs-paths")
                    with Vertical(id="fs-values-column"):
                        yield Static("Pick a path: its values are counted within the filter.",
                                     id="fs-facet-title")
                        yield OptionList(id="fs-values")
            with TabPane("Examples (F4)", id="examples"):
                yield OptionList(*[Option(f"[b]{esc(ex)}[/b]  [dim]{esc(why)}[/dim]",
                                          id=str(i)) for i, (ex, why) in enumerate(EXAMPLES)],
                                 id="fs-examples")
            with TabPane("History (F5)", id="history"):
                yield OptionList(id="fs-history")
        yield Footer()

    @property
    def editor(self) -> FilterEditor:
        return self.query_one("#fs-text", FilterEditor)

    def on_mount(self) -> None:
        table = self.query_one("#fs-preview", DataTable)
        labels = {c.key: c.label for c in TABLE_COLUMNS}  # the task table's headers
        for key, width in PREVIEW_WIDTHS.items():
            table.add_column(labels[key], key=key, width=width)
        self._fill_history()
        self._validate(self.editor.text)
        self.editor.move_cursor(self.editor.document.end)
        self.input_ready(self.editor)  # focus now, then the keys typed since f
        self._launch()
        self.load_paths()

    def on_key(self, event: events.Key) -> None:
        self.reroute(event)

    def _fill_history(self) -> None:
        options = self.query_one("#fs-history", OptionList)
        options.clear_options()
        items = list(dict.fromkeys(reversed(self.history)))
        if items:
            options.add_options([Option(esc(h), id=str(i)) for i, h in enumerate(items)])
        else:
            options.add_option(Option("[dim]No filters applied yet on this database.[/dim]",
                                      disabled=True))
        self.history_items = items  # the history tab's filters, newest first

    # -- validation -----------------------------------------------------------------------

    @on(TextArea.Changed, "#fs-text")
    def _changed(self, event: TextArea.Changed) -> None:
        text = self.editor.text
        language = _language_for(text)
        if self.editor.language != language:
            self.editor.language = language
        self.generation += 1
        self._validate(text)
        if self._timer is not None:
            self._timer.stop()
        if self.valid:
            self._timer = self.set_timer(DEBOUNCE, self._launch)

    def _validate(self, text: str) -> None:
        """Parse synchronously (cheap); show the caret message or the compiled forms."""
        from ...query import filter_to_sql, parse_filter
        from ...query.errors import FilterError

        mongo = is_mongo(text)
        self.query_one("#fs-syntax", Label).update(
            f"[b]{'Mongo' if mongo else 'Python'}[/b] syntax  ")
        message = self.query_one("#fs-message", Static)
        form_title = self.query_one("#fs-form-title", Label)
        form = self.query_one("#fs-form", Static)
        sql = self.query_one("#fs-sql", Static)
        flat = one_line(text)
        try:
            compiled = parse_filter(flat)
            where = filter_to_sql(compiled, self.store.dialect) if compiled else None
        except FilterError as exc:
            self._set_valid(False)
            message.update(esc(exc.render()))
            return
        except Exception as exc:  # noqa: BLE001 - guards the parser and compiler on every
            # keystroke: a fault in them shows under the editor, the screen stays usable
            self._set_valid(False)
            message.update(esc(describe_message(exc)))
            return
        self.compiled = compiled
        self._set_valid(True)
        if compiled is None:
            message.update("✓ no filter: every task")
            form_title.update("Mongo form")
            form.update("[dim]{}[/dim]")
            sql.update("[dim]TRUE[/dim]")
            return
        message.update("✓ valid — Enter applies")
        if mongo:
            from ...query.conditions import python_form

            form_title.update("Python form")
            py = python_form(compiled.mongo)
            form.update(esc(py) if py else "[dim](no Python form)[/dim]")
        else:
            form_title.update("Mongo form")
            form.update(esc(_dumps(compiled.mongo)))
        sql.update(esc(_render_sql(where, self.store.dialect)))

    def _set_valid(self, valid: bool) -> None:
        self.valid = valid
        self.query_one("#fs-apply", Button).disabled = not valid
        self.query_one("#fs-message", Static).set_class(not valid, "-error")
        self.editor.set_class(not valid, "-invalid-filter")
        if not valid:
            self.query_one("#fs-form", Static).update("[dim]—[/dim]")
            self.query_one("#fs-counts", Static).update("")

    # -- live queries ---------------------------------------------------------------------

    def selection(self) -> Selection | None:
        from ...query import filter_to_sql

        if self.compiled is None:
            return None
        return Selection(where=filter_to_sql(self.compiled, self.store.dialect))

    def _launch(self) -> None:
        if not self.valid:
            return
        self.query_one("#fs-counts", Static).update("[dim]counting…[/dim]")
        self.refresh_matches(self.generation)
        if self.facet_path:
            self.refresh_facets(self.facet_path, self.generation)

    @work(exclusive=True, group="fs-matches", exit_on_error=False)
    async def refresh_matches(self, generation: int) -> None:
        sel = self.selection()
        try:
            counts = await self.store.count_by_status(sel)
            tasks = await self.store.list(sel, sort=self.sort, limit=PREVIEW_ROWS)
        except EXPECTED as exc:
            if generation == self.generation:
                self.query_one("#fs-counts", Static).update(
                    f"[$error]cannot count: {esc(describe_message(exc))}[/]")
            return
        if generation != self.generation:
            return
        total = sum(counts.values())
        parts = [f"[b]{total:,}[/b] match" + ("es" if total != 1 else "")]
        parts += [f"[${STATUS_VARIABLES[s]}]{s}[/] {counts.get(s, 0):,}" for s in STATUSES
                  if counts.get(s)]
        self.query_one("#fs-counts", Static).update("  ·  ".join(parts))
        table = self.query_one("#fs-preview", DataTable)
        table.clear()
        for t in tasks:
            table.add_row(*(Text(inert(str(v))) for v in (
                short_id(t.task_id), t.status, t.task_name or "", compact_pairs(t.args or {}),
                summary_highlights(t.summary or {}))), key=t.task_id)

    # -- facets ---------------------------------------------------------------------------

    @work(exclusive=True, group="fs-paths", exit_on_error=False)
    async def load_paths(self) -> None:
        from ...store.facets import discover_paths

        try:
            self.paths = await discover_paths(self.store)
        except EXPECTED:  # the paths only help typing: offer the fixed fields
            self.paths = ["status", "task_name", "priority"]
        options = self.query_one("#fs-paths", OptionList)
        options.clear_options()
        options.add_options([Option(esc(p), id=p) for p in self.paths])

    @on(OptionList.OptionSelected, "#fs-paths")
    def _path_picked(self, event: OptionList.OptionSelected) -> None:
        self.pick_path(str(event.option_id))

    @on(Input.Submitted, "#fs-path")
    def _path_typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.pick_path(event.value.strip())

    def pick_path(self, path: str) -> None:
        from ...store.facet_summary import FacetError, parse_facet_path

        try:
            parse_facet_path(path)
        except FacetError as exc:
            self.query_one("#fs-facet-title", Static).update(f"[$error]{esc(str(exc))}[/]")
            return
        self.facet_path = path
        self.query_one("#fs-path", Input).value = path
        self.query_one("#fs-facet-title", Static).update(f"[b]{esc(path)}[/b]  counting…")
        if self.valid:
            self.refresh_facets(path, self.generation)
        self.query_one("#fs-values", OptionList).focus()

    @work(exclusive=True, group="fs-facets", exit_on_error=False)
    async def refresh_facets(self, path: str, generation: int) -> None:
        from ...store.facets import facet_counts

        try:
            facets = await facet_counts(self.store, path, self.selection(), limit=50)
        except EXPECTED as exc:
            self.query_one("#fs-facet-title", Static).update(
                f"[$error]{esc(describe_message(exc))}[/]")
            return
        if generation != self.generation or path != self.facet_path:
            return
        self.show_facets(facets)

    def show_facets(self, f: Any) -> None:
        title = (f"[b]{esc(f.path)}[/b]  {f.total:,} task{'s' * (f.total != 1)} · "
                 f"{f.distinct:,} value{'s' * (f.distinct != 1)}")
        if f.arrays:
            title += " · arrays: each element counted"
        if f.numeric:
            title += f" · min {esc(f.numeric.min)} max {esc(f.numeric.max)}"
        title += "  [dim](Enter adds the condition)[/dim]"
        self.query_one("#fs-facet-title", Static).update(title)
        entries: list[Any] = list(f.values)
        width = max([len(v.label[:36]) for v in f.values] + [9])
        lines = [_facet_line(v.label, v.count, f.total, width) for v in f.values]
        if f.other:
            lines.append(f"[dim]{'(others)':<{width}} {f.other:>9,}[/dim]")
            entries.append(None)
        if f.missing:
            lines.append(_facet_line("(missing)", f.missing, f.total, width, dim=True))
            entries.append(f.missing_value)
        if f.numeric:
            for b in f.numeric.buckets:
                lines.append(_facet_line(f"range {b.label}", b.count, f.total, width))
                entries.append(b)
        options = self.query_one("#fs-values", OptionList)
        options.clear_options()
        options.add_options([Option(line, id=str(i), disabled=entries[i] is None)
                             for i, line in enumerate(lines)])
        if lines:
            options.highlighted = 0
        self.facet_entries = entries

    @on(OptionList.OptionSelected, "#fs-values")
    def _value_picked(self, event: OptionList.OptionSelected) -> None:
        from ...query.conditions import add_condition
        from ...store.facet_summary import condition_for

        entry = self.facet_entries[int(str(event.option_id))]
        if entry is None or self.facet_path is None:
            return
        if not self.valid:
            self.notify("fix the filter first", severity="warning")
            return
        cond = condition_for(self.facet_path, entry)
        if cond in self.editor.text:
            self.notify(f"already in the filter: {cond}", timeout=3)
            return
        self.set_text(add_condition(one_line(self.editor.text), cond))
        self.notify(cond, title="Added", timeout=3)

    # -- editing --------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        self.editor.load_text(text)
        self.editor.move_cursor(self.editor.document.end)

    @on(OptionList.OptionSelected, "#fs-examples")
    def _example_picked(self, event: OptionList.OptionSelected) -> None:
        from ...query.conditions import add_condition

        example = EXAMPLES[int(str(event.option_id))][0]
        current = one_line(self.editor.text)
        if current and self.valid and not is_mongo(current) and not is_mongo(example):
            self.set_text(add_condition(current, example))
        else:
            self.set_text(example)
        self.editor.focus()

    @on(OptionList.OptionSelected, "#fs-history")
    def _history_picked(self, event: OptionList.OptionSelected) -> None:
        self.set_text(self.history_items[int(str(event.option_id))])
        self.editor.focus()

    def action_toggle_syntax(self) -> None:
        """Rewrite the filter in the other syntax (Mongo always exists; Python when simple)."""
        from ...query.conditions import python_form

        if not self.valid or self.compiled is None:
            self.notify("write a valid filter first", severity="warning")
            return
        if is_mongo(self.editor.text):
            py = python_form(self.compiled.mongo)
            if py is None:
                self.notify("this Mongo filter has no simple Python form", severity="warning")
                return
            self.set_text(py)
        else:
            self.set_text(_dumps(self.compiled.mongo))

    @on(Button.Pressed, "#fs-toggle")
    def _toggle_pressed(self) -> None:
        self.action_toggle_syntax()

    def action_toggle_sql(self) -> None:
        box = self.query_one("#fs-sql-box", Collapsible)
        box.collapsed = not box.collapsed

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"facets": "#fs-paths", "examples": "#fs-examples",
                  "history": "#fs-history", "matches": "#fs-preview"}[tab]
        if tab == "facets" and self.facet_path:
            target = "#fs-values"
        self.query_one(target).focus()

    def action_focus_editor(self) -> None:
        self.editor.focus()

    # -- leaving --------------------------------------------------------------------------

    @on(FilterEditor.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#fs-apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        self._validate(self.editor.text)
        if not self.valid:
            self.notify("the filter is not valid: see the message under it", severity="error")
            return
        text = one_line(self.editor.text)
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _facet_line(label: str, n: int, total: int, width: int, dim: bool = False) -> str:
    share = 100 * n / total if total else 0.0
    bar = "█" * max(1, round(share / 5)) if n else ""
    label = label if len(label) <= 36 else label[:35] + "…"
    text = f"{esc(f'{label:<{width}}')} {n:>9,} {share:5.1f}%  [$accent]{bar}[/]"
    return f"[dim]{text}[/dim]" if dim else text


def _dumps(mongo: dict) -> str:
    from ...query import _dumps as dumps

    text = dumps(mongo)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def _render_sql(where: Any, dialect: str) -> str:
    if where is None:
        return "TRUE"
    try:
        from sqlalchemy.dialects import postgresql, sqlite

        d = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
        try:
            return str(where.compile(dialect=d, compile_kwargs={"literal_binds": True}))
        except Exception:  # noqa: BLE001 - SQLAlchemy raises several kinds when a value
            # has no literal form: show the statement with its placeholders then
            return str(where.compile(dialect=d))
    except Exception as exc:  # noqa: BLE001 - a diagnostic display (f7): never fatal
        return f"(could not render: {exc})"
