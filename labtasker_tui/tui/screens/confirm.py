"""Yes/No modal for destructive actions; No is focused and is the default. Its keys are
the registry's ``confirm`` scope (remappable); the buttons name the keys bound now."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from ...safe_text import inert_lines
from ..bindings import bindings, key_hint


class ConfirmModal(ModalScreen[bool]):
    ACTION_SCOPE = "confirm"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, message: str, *, title: str = "Confirm", yes: str = "Yes",
                 no: str = "No", detail: str = "") -> None:
        super().__init__()
        self.message = message
        self.detail = detail  # shown dimmed under the message (plain text)
        self.title_text = title
        self.yes = yes
        self.no = no
        self.shown = False  # keys typed before the dialog was on screen do not answer it

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="confirm-box"):
            yield Label(self.title_text, classes="modal-title", markup=False)
            yield Label(self.message, id="confirm-message", markup=False)
            if self.detail:
                yield Label(Text(inert_lines(self.detail), style="dim"), id="confirm-detail")
            with Horizontal(classes="modal-buttons"):
                yes, no = key_hint(self.app, "confirm.yes"), key_hint(self.app, "confirm.no")
                yield Button(escape(f"{self.yes} ({yes})"), variant="error", id="confirm-yes")
                yield Button(escape(f"{self.no} ({no})"), variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#confirm-no", Button))
        self.call_after_refresh(setattr, self, "shown", True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if self.shown:
            self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, value: bool) -> None:
        if self.shown or not value:
            self.dismiss(value)
