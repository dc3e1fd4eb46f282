"""One-line input modal with live validation/preview (priority, assignments, sort path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static
from textual.worker import WorkerCancelled, WorkerFailed

from ...safe_text import inert
from ..bindings import bindings, key_hint
from ..errors import describe
from ..markup import PlainNotify
from ..typeahead import TypeAhead, TypeAheadInput

# preview(text) -> (ok, message): ok=False blocks Enter
Preview = Callable[[str], Awaitable[tuple[bool, str]]]


class PromptModal(PlainNotify, TypeAhead, ModalScreen[str | None]):
    ACTION_SCOPE = "prompt"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, title: str, *, value: str = "", placeholder: str = "",
                 help_text: str = "", preview: Preview | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.help_text = help_text
        self.preview = preview
        self.ok = preview is None
        self._worker = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="prompt-box"):
            yield Label(self.title_text, classes="modal-title", markup=False)
            if self.help_text:
                yield Label(self.help_text, classes="modal-help", markup=False)
            yield TypeAheadInput(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-preview", markup=False)
            yield Label(f"Enter: apply   {key_hint(self.app, 'prompt.cancel')}: cancel",
                        classes="modal-help", markup=False)

    def on_mount(self) -> None:
        self.input_ready(self.query_one(Input))
        if self.preview is not None:
            self._worker = self._run_preview(self.value)

    def on_key(self, event: events.Key) -> None:
        self.reroute(event)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.preview is not None:
            self.ok = False
            self._worker = self._run_preview(event.value)

    @work(exclusive=True, group="preview")
    async def _run_preview(self, text: str) -> None:
        assert self.preview is not None
        try:
            ok, message = await self.preview(text)
        except Exception as exc:  # noqa: BLE001 - the preview runs the caller's check on
            # every keystroke: whatever it raises is shown, the modal stays usable
            ok, message = False, describe(exc)[0]
        if self.query_one(Input).value != text:
            return
        self.ok = ok
        box = self.query_one("#prompt-preview", Static)
        box.update(inert(message))
        box.set_class(not ok, "-error")

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        if self.preview is not None:
            if self._worker is not None:
                try:
                    await self._worker.wait()
                except (WorkerCancelled, WorkerFailed):  # a newer keystroke, or a fault
                    pass  # already shown; self.ok says whether to accept
            if not self.ok:
                self.notify("fix the input first", severity="warning")
                return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
