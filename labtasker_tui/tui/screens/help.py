"""The `?` screen: every key, grouped, derived from the action registry (``tui/actions.py``)
with the user's remaps applied, plus the keymap file's path."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..actions import ACTIONS, NOTES, SECTIONS, help_section, keys_label
from ..keymap import Keymap, keymap_path
from ..markup import esc


def help_sections(keymap: Keymap | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(keys, text)]) in order; actions with the same help text in one
    section share a row (e.g. `?` on the task list and f1 everywhere)."""
    rows: dict[str, dict[str, list[str]]] = {}
    for spec in ACTIONS:
        keys = keymap.keys(spec) if keymap is not None else spec.keys
        section = rows.setdefault(help_section(spec), {})
        section.setdefault(spec.help, []).append(keys_label(keys))
    order = SECTIONS + [s for s in rows if s not in SECTIONS]
    out = []
    for title in order:
        entries = [(keys, text) for keys, text in NOTES.get(title, [])]
        entries += [(" / ".join(keys), text) for text, keys in rows.get(title, {}).items()]
        out.append((title, entries))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box", id="help-box"):
            yield Label("labtasker-tui keys", classes="modal-title")
            keymap = getattr(self.app, "keymap", None)
            for title, rows in help_sections(keymap):
                yield Label(title, classes="help-section")
                for keys, text in rows:
                    yield Static(f"  [b]{esc(f'{keys:<20}')}[/b] {esc(text)}", markup=True,
                                 classes="help-row")
            path = keymap.path if keymap is not None else keymap_path()
            yield Label(f"Remap keys in {path} (`labtasker-tui keys` lists the action ids)."
                        "  Esc closes", classes="modal-help", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
