"""The one registry of the app's keyed actions. Plain data: no Textual, so that
``labtasker-tui keys`` prints it without loading the app.

Each :class:`ActionSpec` is declared once here; from it come the ``BINDINGS`` of every screen,
dialog and the filter bar (``tui/bindings.py``: a Textual ``Binding`` whose ``id`` is the
spec's id; a scope is the ``ACTION_SCOPE`` of the class that owns it), the footer (the
bindings with a ``footer`` label, in this order), the command palette (``tui/commands.py``)
and the help screen (``tui/screens/help.py``). Users remap keys by id in ``keymap.toml``
(``tui/keymap.py``), applied with Textual's ``App.set_keymap``; dialogs name the keys bound
now (``bindings.key_hint``). Keys of Textual's own widgets (arrows in lists, Enter in inputs)
are not here: the help screen lists the ones users need as :data:`NOTES`.

To add a key: one ``ActionSpec`` line in :data:`ACTIONS` and the ``action_*`` method.
"""

from __future__ import annotations

from dataclasses import dataclass

#: scope -> where its keys work (the help screen's and `keys` output's wording)
SCOPES: dict[str, str] = {
    "app": "everywhere",
    "task_list": "task list",
    "filter": "filter screen (f)",
    "editor": "YAML editor (e)",
    "log": "log screen (l)",
    "columns": "column picker (O)",
    "submit": "submit screen (n)",
    "filter_bar": "filter bar (/)",
    "confirm": "confirm dialog",
    "diff": "editor's save preview",
    "prompt": "input prompt",
    "views": "view picker (v)",
    "help": "help screen (?)",
    "results": "results screen (R)",
}


@dataclass(frozen=True)
class ActionSpec:
    """One keyed action. ``id`` (``scope.name``) is the binding id users remap."""

    id: str
    action: str  # the Textual action run, e.g. "delete" or "status('failed')"
    keys: str  # default keys, comma separated, Textual key names ("x,delete", "slash")
    title: str  # the palette title, "group: what" (e.g. "task: delete")
    help: str  # one line for the help screen and the palette
    footer: str = ""  # the footer label; empty = not in the footer
    section: str = ""  # help screen section; empty = the scope's own section
    palette: bool = True  # offered in the command palette
    priority: bool = False  # a Textual priority binding (runs before the focused widget)
    opens: bool = False  # opens an input or a screen: keys typed right after it go there

    @property
    def scope(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def group(self) -> str:
        """The palette group: the title's prefix (task, mark, filter, view, app, ...)."""
        return self.title.split(":", 1)[0] if ":" in self.title else self.scope


A = ActionSpec
MOVE, FIND, COLS, MARK, ACT, VIEW = ("Move", "Find", "Columns and logs", "Mark",
                                     "Act (on marked tasks, else the cursor task)", "View")
DIALOGS = "Dialogs"

ACTIONS: list[ActionSpec] = [
    # -- everywhere -----------------------------------------------------------------------
    A("app.help", "help", "f1", "view: help (keys)", "this help", section=VIEW),
    A("app.toggle_dark", "toggle_dark", "ctrl+t", "view: toggle dark / light theme",
      "toggle dark / light theme", section=VIEW),
    A("app.quit", "quit", "ctrl+q", "app: quit", "quit", section=VIEW,
      priority=True),
    # -- the task list (its footer shows these in this order) -----------------------------
    A("task_list.quit", "app.quit", "q", "app: quit", "quit", "Quit", VIEW, palette=False),
    A("task_list.help", "app.help", "question_mark", "view: help (keys)", "this help", "Help",
      VIEW, palette=False, opens=True),
    A("task_list.cursor_down", "cursor('down')", "j", "view: row down", "row down (as ↓)",
      section=MOVE, palette=False),
    A("task_list.cursor_up", "cursor('up')", "k", "view: row up", "row up (as ↑)",
      section=MOVE, palette=False),
    A("task_list.filter", "filter", "slash", "filter: edit filter",
      "filter (Python syntax or Mongo JSON); Enter applies",
      "Filter", FIND, opens=True),
    A("task_list.clear_filter", "clear_filter", "ctrl+l", "filter: clear",
      "remove the filter and the status filter", section=FIND),
    A("task_list.status_pending", "status('pending')", "1", "filter: pending only",
      "only pending tasks", section=FIND),
    A("task_list.status_running", "status('running')", "2", "filter: running only",
      "only running tasks", section=FIND),
    A("task_list.status_success", "status('success')", "3", "filter: success only",
      "only successful tasks", section=FIND),
    A("task_list.status_failed", "status('failed')", "4", "filter: failed only",
      "only failed tasks", section=FIND),
    A("task_list.status_cancelled", "status('cancelled')", "5", "filter: cancelled only",
      "only cancelled tasks", section=FIND),
    A("task_list.status_all", "status('')", "0", "filter: all statuses", "all statuses",
      section=FIND),
    A("task_list.cycle_sort", "cycle_sort", "s", "view: cycle sort", "cycle the sort column",
      "Sort", FIND),
    A("task_list.sort_path", "sort_path", "S", "view: sort by path",
      "sort by any field or JSON path (e.g. -args.lr)", section=FIND, opens=True),
    A("task_list.toggle_detail", "toggle_detail", "d", "view: toggle detail pane",
      "toggle the detail pane (the task as YAML)", "Detail", VIEW),
    A("task_list.top", "top", "g", "view: first task", "first task (ctrl+home too)",
      section=MOVE),
    A("task_list.bottom", "bottom", "G", "view: last task", "last task (ctrl+end too)",
      section=MOVE),
    A("task_list.reload", "reload", "ctrl+r", "view: reload",
      "reload the window and the counts now", section=VIEW),
    A("task_list.toggle_mark", "toggle_mark", "space", "mark: toggle",
      "mark / unmark the task under the cursor", "Mark", MARK),
    A("task_list.extend_down", "extend_down", "shift+down", "mark: extend down",
      "extend the marks down", section=MARK),
    A("task_list.extend_up", "extend_up", "shift+up", "mark: extend up",
      "extend the marks up", section=MARK),
    A("task_list.mark_all", "mark_all", "a", "mark: all matching", "mark all matching tasks",
      section=MARK),
    A("task_list.clear_marks", "clear_marks", "A", "mark: clear", "clear the marks", "Unmark",
      MARK),
    A("task_list.edit", "edit", "e", "task: edit as YAML",
      "edit as YAML in the app (ctrl+o: $EDITOR, ctrl+s: save)", "Edit", ACT, opens=True),
    A("task_list.delete", "delete", "x,delete", "task: delete", "delete (asks first)",
      "Delete", ACT, opens=True),
    A("task_list.reset", "reset", "r", "task: reset to pending", "reset to pending",
      section=ACT),
    A("task_list.cancel", "cancel_tasks", "c", "task: cancel", "cancel", section=ACT),
    A("task_list.requeue", "requeue", "F", "task: requeue failed (current filter)",
      "put the failed tasks of the current filter back to pending, attempts reset (asks)",
      section=ACT, opens=True),
    A("task_list.sweep_fill", "sweep_fill", "W", "sweep: fill (submit what it is missing)",
      "submit what the cursor task's sweep is missing (asks; as `sweep fill NAME`)",
      section=ACT, opens=True),
    A("task_list.priority", "priority", "p", "task: set priority", "set priority",
      section=ACT, opens=True),
    A("task_list.assign", "assign", "equals_sign", "task: assign fields",
      "assign fields, e.g. args.lr=0.3 priority=5", section=ACT, opens=True),
    A("task_list.submit", "submit", "n", "task: submit new", "submit a new task", "New", ACT,
      opens=True),
    A("task_list.copy", "copy", "y", "task: copy submit command",
      "copy the task's `labtasker-tui submit …` line (OSC 52 and tmux / clipboard)",
      section=ACT),
    A("task_list.copy_ids", "copy_ids", "Y", "mark: copy ids",
      "copy the marked task ids, one per line", section=MARK),
    A("task_list.undo", "undo", "u", "task: undo the last change",
      "undo the last change, several deep (preview first)", section=ACT),
    A("task_list.redo", "undo(True)", "U", "task: redo the last undo",
      "redo the last undo (preview first)", section=ACT),
    A("task_list.filter_screen", "filter_screen", "f",
      "filter: filter screen (live matches, facets, examples)",
      "filter screen: live count and preview, facets, examples, history", section=FIND, opens=True),
    A("task_list.views", "views", "v", "view: switch saved view",
      "saved views (filter, sort, columns)", section=FIND, opens=True),
    A("task_list.save_view", "save_view", "V", "view: save current filter, sort and columns as…",
      "save the filter, sort and columns as a named view",
      section=FIND, opens=True),
    A("task_list.columns", "columns", "C", "view: extra columns by path…",
      "extra columns by path, e.g. args.model, summary.acc", section=COLS, opens=True),
    A("task_list.column_picker", "column_picker", "O", "view: columns (hide, reorder, widen)…",
      "pick the columns shown, their order and widths (V saves them with the view)",
      section=COLS),
    A("task_list.show_log", "show_log", "l", "task: show run.log (follows it)",
      "the task's run.log, following new output", section=COLS, opens=True),
    A("task_list.results", "results", "R", "view: results grouped by swept parameters",
      "results: groups by the varying args (or the columns), mean ± std per metric",
      section=VIEW),
    # -- the filter screen ----------------------------------------------------------------
    A("filter.cancel", "cancel", "escape", "filter: back without applying",
      "back without applying", "Back"),
    A("filter.apply", "apply", "ctrl+s", "filter: apply to the task list",
      "apply to the task list (enter too; ctrl+j: new line)", "Apply"),
    A("filter.toggle_syntax", "toggle_syntax", "f2", "filter: rewrite in the other syntax",
      "rewrite in the other syntax (Python ⇄ Mongo)", "Python⇄Mongo"),
    A("filter.facets", "show_tab('facets')", "f3", "filter: facet counts",
      "facets: pick a path, Enter on a value ANDs its condition", "Facets"),
    A("filter.examples", "show_tab('examples')", "f4", "filter: worked examples",
      "worked examples: Enter inserts one", "Examples"),
    A("filter.history", "show_tab('history')", "f5", "filter: history",
      "filters applied before", "History"),
    A("filter.matches", "show_tab('matches')", "f6", "filter: matching tasks",
      "the tasks the filter matches", palette=False),
    A("filter.toggle_sql", "toggle_sql", "f7", "filter: show / hide the SQL",
      "show / hide the WHERE clause it compiles to", "SQL"),
    A("filter.focus_editor", "focus_editor", "ctrl+e", "filter: edit the filter",
      "back to the filter text", palette=False),
    # -- the YAML editor ------------------------------------------------------------------
    A("editor.save", "save", "ctrl+s", "editor: save", "save (shows the changes first)",
      "Save", palette=False),
    A("editor.external", "external", "ctrl+o", "editor: open in $EDITOR",
      "edit in $EDITOR", "$EDITOR", palette=False),
    A("editor.goto_error", "goto_error", "ctrl+g", "editor: go to the error",
      "move the cursor to the error", "Go to error", palette=False),
    A("editor.close", "close", "escape", "editor: cancel", "cancel (asks when changed)",
      "Cancel", palette=False, priority=True),
    # -- the log screen -------------------------------------------------------------------
    A("log.close", "close", "escape,q", "log: close", "close", "Close", palette=False),
    A("log.follow", "follow", "end,G", "log: follow", "follow the end", "Follow (end)",
      palette=False),
    A("log.top", "top", "home,g", "log: top", "the top", "Top", palette=False),
    # -- the column picker ----------------------------------------------------------------
    A("columns.cancel", "cancel", "escape", "columns: cancel", "back without changes",
      "Cancel", palette=False),
    A("columns.apply", "apply", "enter", "columns: apply", "apply", "Apply", palette=False),
    A("columns.toggle", "toggle", "space", "columns: show / hide", "show / hide the column",
      "Show/hide", palette=False),
    A("columns.move_up", "move(-1)", "left_square_bracket,shift+up", "columns: move up",
      "move the column up", "Move up", palette=False),
    A("columns.move_down", "move(1)", "right_square_bracket,shift+down", "columns: move down",
      "move the column down", "Move down", palette=False),
    A("columns.widen", "widen(1)", "plus,equals_sign", "columns: widen", "widen", "Widen",
      palette=False),
    A("columns.narrow", "widen(-1)", "minus", "columns: narrow", "narrow", "Narrow",
      palette=False),
    A("columns.auto_width", "auto_width", "0", "columns: width by content",
      "width by content", "By content", palette=False),
    # -- the submit screen ----------------------------------------------------------------
    A("submit.cancel", "cancel", "escape", "submit: cancel", "back without submitting",
      "Cancel", palette=False),
    A("submit.submit", "submit", "ctrl+s", "submit: submit", "submit the task", "Submit",
      palette=False),
    # -- the results screen (R) ----------------------------------------------------------
    A("results.close", "close", "escape,q", "results: back to the list", "back to the list",
      "Back", palette=False),
    A("results.open_group", "open_group", "enter", "results: list the group's tasks",
      "the list, filtered to the group under the cursor", "Open group", palette=False),
    A("results.sort", "sort", "s", "results: sort by this column",
      "sort by the column under the cursor (again: reverse; or click its header)", "Sort",
      palette=False),
    A("results.group_by", "group_by", "b", "results: group by paths…",
      "group by these paths (empty: every varying args path)", "Group by", palette=False),
    A("results.metrics", "metrics", "m", "results: metrics…",
      "the metric paths (empty: every numeric summary path)", "Metrics", palette=False),
    A("results.toggle_best", "toggle_best", "minus", "results: best is max / min",
      "best task: the highest value or the lowest", "Max/min", palette=False),
    A("results.save_view", "save_view", "V", "results: save as a view…",
      "save the filter and the grouping as a view (its columns)", "Save view",
      palette=False),
    # -- the filter bar (/) ---------------------------------------------------------------
    A("filter_bar.older", "history(-1)", "up", "filter: older in the history",
      "filter bar: the previous filter applied", section=FIND, palette=False),
    A("filter_bar.newer", "history(1)", "down", "filter: newer in the history",
      "filter bar: the next filter applied", section=FIND, palette=False),
    A("filter_bar.cancel", "cancel", "escape", "filter: cancel editing",
      "filter bar: cancel (back to the filter applied)", section=FIND, palette=False),
    # -- dialogs --------------------------------------------------------------------------
    A("confirm.yes", "answer(True)", "y", "confirm: yes", "confirm dialog: yes", "Yes",
      DIALOGS, palette=False),
    A("confirm.no", "answer(False)", "n,escape", "confirm: no",
      "confirm dialog: no (the default)", "No", DIALOGS, palette=False),
    A("diff.save", "answer(True)", "y,enter", "editor: save the changes shown",
      "editor's save preview: save", "Save", DIALOGS, palette=False),
    A("diff.back", "answer(False)", "n,escape", "editor: back to editing",
      "editor's save preview: back to editing", "Back", DIALOGS, palette=False),
    A("prompt.cancel", "cancel", "escape", "prompt: cancel",
      "input prompt: cancel (Enter applies)", "Cancel", DIALOGS, palette=False),
    A("views.cancel", "cancel", "escape", "views: cancel",
      "view picker: cancel (Enter applies the view)", "Cancel", DIALOGS, palette=False),
    A("help.close", "close", "escape,q,question_mark", "help: close", "help screen: close",
      "Close", DIALOGS, palette=False),
]

BY_ID: dict[str, ActionSpec] = {spec.id: spec for spec in ACTIONS}

#: rows of the help screen that are not actions of this registry (keys of Textual's own
#: widgets, mouse use): section -> (keys, text)
NOTES: dict[str, list[tuple[str, str]]] = {
    MOVE: [("↑ ↓", "row up / down (past the window edge loads the next window)"),
           ("PgUp PgDn", "page; at the window edge, the previous / next window")],
    FIND: [("click header", "sort by that column (again: reverse)")],
    COLS: [("running rows", "summary: worker name@host/slot;  modified: ▶ run time")],
    VIEW: [("ctrl+p", "command palette (every action)")],
}

#: the help screen's sections in order (a scope without a section gets its own)
SECTIONS: list[str] = [MOVE, FIND, COLS, MARK, ACT, VIEW]

#: Textual key names shown as the key a user presses
_KEY_LABELS = {
    "slash": "/", "question_mark": "?", "equals_sign": "=", "plus": "+", "minus": "-",
    "left_square_bracket": "[", "right_square_bracket": "]", "up": "↑", "down": "↓",
    "left": "←", "right": "→", "escape": "esc", "delete": "delete", "space": "space",
}


def in_scope(scope: str) -> list[ActionSpec]:
    return [spec for spec in ACTIONS if spec.scope == scope]


def split_keys(keys: str) -> list[str]:
    return [k.strip() for k in keys.split(",") if k.strip()]


def key_label(key: str) -> str:
    """`shift+down` -> `shift+↓`, `slash` -> `/` (how the help screen and `keys` show it)."""
    parts = key.split("+")
    return "+".join(_KEY_LABELS.get(p, p) for p in parts)


def keys_label(keys: str) -> str:
    return " / ".join(key_label(k) for k in split_keys(keys))


def key_word(keys: str) -> str:
    """The first of ``keys`` as a hint's prose names it: `escape` -> `Escape`, `y` -> `y`."""
    first = (split_keys(keys) or [""])[0]
    return _KEY_WORDS.get(first, key_label(first))


_KEY_WORDS = {"escape": "Escape", "enter": "Enter"}


def help_section(spec: ActionSpec) -> str:
    where = SCOPES[spec.scope]
    return spec.section or where[:1].upper() + where[1:]
