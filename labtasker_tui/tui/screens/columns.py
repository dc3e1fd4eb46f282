"""The column picker: hide, reorder and widen the task table's columns (kept with views)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...fields import TABLE_COLUMNS
from ...safe_text import inert
from ..bindings import bindings
from ..cells import FIELD_OF

#: built-in columns: (view name, label), in their default order (the field table's)
BUILTIN = [(c.field, c.label) for c in TABLE_COLUMNS]
MIN_WIDTH, MAX_WIDTH, STEP = 3, 200, 4


@dataclass
class Col:
    name: str            # task field (built-in column) or JSON path (extra column)
    shown: bool = True
    width: int | None = None  # None: by content

    def spec(self) -> str:
        return f"{self.name}:{self.width}" if self.width else self.name


def columns_from_specs(specs: list[str]) -> list[Col]:
    """Every built-in column (hidden when the layout leaves it out) and the extra columns."""
    from ..widgets.task_table import EXTRA_BEFORE, split_width

    parsed = [split_width(s) for s in specs]
    names = [p for p, _ in parsed]
    full = any(name in dict(BUILTIN) for name in names)
    cols: list[Col] = []
    if full:
        cols = [Col(name, True, width) for name, width in parsed]
        cols += [Col(name, False) for name, _ in BUILTIN if name not in names]
    else:
        extra = [Col(name, True, width) for name, width in parsed]
        for name, _ in BUILTIN:
            if name == FIELD_OF[EXTRA_BEFORE]:  # extra columns go where the table puts them
                cols += extra
            cols.append(Col(name))
    return cols


class ColumnPicker(ModalScreen[list[str] | None]):
    """Dismisses with the new column specs (``name[:width]`` in order, hidden left out), or
    None. Space hides/shows, [ and ] (or shift+up/down) move, + and - widen and narrow,
    0 gives the width back to the content."""

    ACTION_SCOPE = "columns"
    BINDINGS = bindings(ACTION_SCOPE)

    def __init__(self, specs: list[str], widths: dict[str, int]) -> None:
        super().__init__()
        self.cols = columns_from_specs(specs)
        self.widths = widths  # current rendered widths, by column name

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="columns-box"):
            yield Label("Columns", classes="modal-title")
            yield OptionList(*self._options(), id="columns-list")
            yield Label("space: show/hide   [ ]: move   + -: widen/narrow   0: by content\n"
                        "Enter: apply   Escape: cancel\n"
                        "V saves them with the view; C adds a column by path",
                        classes="modal-help")

    def _options(self) -> list[Option]:
        labels = dict(BUILTIN)
        out = []
        for col in self.cols:
            line = Text()
            line.append("[x] " if col.shown else "[ ] ", style="bold" if col.shown else "dim")
            line.append(f"{inert(labels.get(col.name, col.name)):<14}")
            line.append(f"{inert(col.name):<22}", style="dim")
            width = f"width {col.width}" if col.width else "width by content"
            line.append(width, style="" if col.width else "dim")
            out.append(Option(line, id=col.name))
        return out

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.query_one(OptionList).focus()

    def _refresh(self, index: int) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = max(0, min(index, len(self.cols) - 1))

    @property
    def index(self) -> int:
        return self.query_one(OptionList).highlighted or 0

    def action_toggle(self) -> None:
        col = self.cols[self.index]
        if col.shown and sum(c.shown for c in self.cols) == 1:
            self.notify("at least one column stays shown", severity="warning")
            return
        col.shown = not col.shown
        self._refresh(self.index)

    def action_move(self, step: int) -> None:
        i, j = self.index, self.index + step
        if 0 <= j < len(self.cols):
            self.cols[i], self.cols[j] = self.cols[j], self.cols[i]
            self._refresh(j)

    def action_widen(self, step: int) -> None:
        col = self.cols[self.index]
        start = col.width or self.widths.get(col.name) or 10
        col.width = max(MIN_WIDTH, min(MAX_WIDTH, start + step * STEP))
        self._refresh(self.index)

    def action_auto_width(self) -> None:
        self.cols[self.index].width = None
        self._refresh(self.index)

    def result(self) -> list[str]:
        """The layout as view column specs; the bare extra paths when it is the default."""
        shown = [c for c in self.cols if c.shown]
        extras = [c.spec() for c in shown if c.name not in dict(BUILTIN)]
        default = [c.name for c in columns_from_specs(extras) if c.shown]
        untouched = all(c.width is None for c in shown if c.name in dict(BUILTIN))
        if untouched and [c.name for c in shown] == default:
            return extras
        return [c.spec() for c in shown]

    def action_apply(self) -> None:
        self.dismiss(self.result())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on the list (its own binding): applied in order after the keys typed before
        it, where a priority binding would run ahead of queued toggles."""
        event.stop()
        self.action_apply()

    def action_cancel(self) -> None:
        self.dismiss(None)
