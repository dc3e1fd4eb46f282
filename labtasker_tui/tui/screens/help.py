"""The `?` screen: every key, grouped, derived from the action registry (``tui/actions.py``)
with the user's remaps applied, plus the keymap file's path."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..bindings import bindings, key_hint
from ..keymap import help_sections, keymap_path
from ..markup import esc


class HelpScreen(ModalScreen[None]):
    ACTION_SCOPE = "help"
    BINDINGS = bindings(ACTION_SCOPE)

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
                        f"  {key_hint(self.app, 'help.close')} closes", classes="modal-help",
                        markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
