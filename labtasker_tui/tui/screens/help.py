"""The `?` screen: every key of the task list, grouped."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..markup import esc

HELP_SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Move", [
        ("↑ ↓ / j k", "row up / down (past the window edge loads the next window)"),
        ("PgUp PgDn", "page; at the window edge, the previous / next window"),
        ("g G", "first / last task (ctrl+home ctrl+end too)"),
    ]),
    ("Find", [
        ("/", "filter (Python syntax or Mongo JSON); Enter applies, Esc cancels, ↑↓ history"),
        ("1 2 3 4 5", "only pending / running / success / failed / cancelled"),
        ("0", "all statuses"),
        ("f", "filter screen: live count and preview, facets, examples, history"),
        ("v", "saved views (filter, sort, columns);  V  save the current one"),
        ("s", "cycle sort column;  S  sort by any path (e.g. -args.lr)"),
        ("click header", "sort by that column (again: reverse)"),
    ]),
    ("Columns and logs", [
        ("C", "extra columns by path, e.g. args.model, summary.acc"),
        ("l", "the task's run.log, following it;  G follow  g top  q close"),
        ("running rows", "summary: worker name@host/slot;  modified: ▶ run time"),
    ]),
    ("Filter screen (f)", [
        ("enter / ctrl+s", "apply to the task list (ctrl+j: new line)"),
        ("f2", "rewrite in the other syntax (Python ⇄ Mongo)"),
        ("f3", "facets: pick a path, Enter on a value ANDs its condition"),
        ("f4 / f5", "worked examples / filters applied before"),
        ("f7", "show the SQL;  esc  back without applying"),
    ]),
    ("Mark", [
        ("space", "mark / unmark the task under the cursor"),
        ("shift+↑ shift+↓", "extend the marks up / down"),
        ("a", "mark all matching tasks"),
        ("A", "clear the marks"),
        ("Y", "copy the marked task ids, one per line"),
    ]),
    ("Act (on marked tasks, else the cursor task)", [
        ("e", "edit as YAML in the app (ctrl+o: $EDITOR, ctrl+s: save)"),
        ("x / delete", "delete (asks first)"),
        ("u / U", "undo the last change, several deep (preview first) / redo the last undo"),
        ("r", "reset to pending"),
        ("c", "cancel"),
        ("p", "set priority"),
        ("=", "assign fields, e.g. args.lr=0.3 priority=5"),
        ("n", "submit a new task"),
        ("y", "copy the task's `labtasker-tui submit …` line (OSC 52 and tmux / clipboard)"),
    ]),
    ("View", [
        ("d", "toggle the detail pane"),
        ("ctrl+r", "reload now"),
        ("ctrl+t", "toggle dark / light theme"),
        ("ctrl+p", "command palette (every action)"),
        ("?", "this help"),
        ("q", "quit"),
    ]),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box", id="help-box"):
            yield Label("labtasker-tui keys", classes="modal-title")
            for title, rows in HELP_SECTIONS:
                yield Label(title, classes="help-section")
                for keys, text in rows:
                    yield Static(f"  [b]{esc(f'{keys:<20}')}[/b] {esc(text)}", markup=True,
                                 classes="help-row")
            yield Label("Esc closes", classes="modal-help")

    def action_close(self) -> None:
        self.dismiss(None)
