"""The filter input: validates while typing, Enter applies; Escape cancels and up/down walk
the history (the registry's ``filter_bar`` keys, remappable)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from ..bindings import bindings
from ..errors import message
from ..markup import esc
from ..typeahead import TypeAheadInput


def check_filter(text: str) -> str | None:
    """None when ``text`` is a valid filter (either syntax), else the parser's message."""
    if not text.strip():
        return None
    from ...query import parse_filter
    from ...query.errors import FilterError

    try:
        parse_filter(text)
    except FilterError as exc:
        where = f"column {exc.column}: " if exc.column else ""
        return f"{where}{exc.message}"
    except Exception as exc:  # noqa: BLE001 - guards the parser on every keystroke: a
        # fault in it shows under the bar, the app stays usable
        return message(exc)
    return None


class FilterInput(TypeAheadInput):
    ACTION_SCOPE = "filter_bar"
    BINDINGS = bindings(ACTION_SCOPE)

    class Cancelled(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self.history_pos = 0

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self.history_pos = max(0, min(len(self.history), self.history_pos + step))
        self.value = self.history[self.history_pos] if self.history_pos < len(self.history) else ""
        self.cursor_position = len(self.value)

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class FilterBar(Vertical):
    """Posts :class:`Applied` with a valid filter text, or :class:`Cancelled`."""

    class Applied(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Cancelled(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.applied = ""

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="/ filter: args.lr > 0.01 and status == 'failed'  or  "
                          '{"args.lr": {"$gt": 0.01}}', id="filter-input")
        yield Static("", id="filter-message")

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    def set_applied(self, text: str) -> None:
        self.applied = text
        self.input.value = text
        self._show(None)

    def _show(self, error: str | None) -> None:
        message = self.query_one("#filter-message", Static)
        message.update(esc(error) if error else "")
        message.display = bool(error)
        self.input.set_class(bool(error), "-invalid-filter")

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show(check_filter(event.value))

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = check_filter(event.value)
        self._show(error)
        if error:
            return
        text = event.value.strip()
        history = self.input.history
        if text and (not history or history[-1] != text):
            history.append(text)
        self.input.history_pos = len(history)
        self.applied = text
        self.post_message(self.Applied(text))

    @on(FilterInput.Cancelled)
    def _cancelled(self, event: FilterInput.Cancelled) -> None:
        event.stop()
        self.input.value = self.applied
        self._show(None)
        self.post_message(self.Cancelled())
