"""The saved-view switcher: a modal list of the views stored in the database."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ..bindings import bindings, key_hint
from ..markup import esc


def view_line(view: Any) -> str:
    sort = ", ".join(f"{'-' if d else ''}{p}" for p, d in view.sort)
    extra = f"  [dim]sort {esc(sort)}[/dim]" if sort else ""
    if view.columns:
        extra += f"  [dim]columns {esc(', '.join(view.columns))}[/dim]"
    flt = esc(view.filter) if view.filter else "[dim](all tasks)[/dim]"
    return f"[b]{esc(view.name)}[/b]  {flt}{extra}"


class ViewPicker(ModalScreen[Any]):
    """Dismisses with the chosen :class:`~labtasker_tui.store.views.View`, or None."""

    ACTION_SCOPE = "views"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, views: list[Any], current: str | None = None) -> None:
        super().__init__()
        self.views = views
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="views-box"):
            yield Label("Saved views", classes="modal-title")
            if self.views:
                yield OptionList(*[Option(view_line(v), id=v.name) for v in self.views],
                                 id="views-list")
                cancel = key_hint(self.app, "views.cancel")
                yield Label("Enter: apply the view's filter, sort and columns   "
                            f"{cancel}: cancel   (V on the task list saves the current state)",
                            classes="modal-help", markup=False)
            else:
                yield Label("No saved views in this queue yet. Press V on the task list to "
                            "save the current filter and sort, or run "
                            "`labtasker-tui view save NAME -f …`.", classes="modal-help")

    def on_mount(self) -> None:
        if self.views:
            options = self.query_one(OptionList)
            names = [v.name for v in self.views]
            options.highlighted = names.index(self.current) if self.current in names else 0
            options.focus()

    @on(OptionList.OptionSelected, "#views-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(v for v in self.views if v.name == event.option_id))

    def action_cancel(self) -> None:
        self.dismiss(None)
