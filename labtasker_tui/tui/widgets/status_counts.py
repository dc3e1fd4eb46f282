"""Sidebar with task counts by status for the current filter; click a line to filter by it."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from ...lifecycle import STATUSES
from .theme_colors import STATUS_VARIABLES, theme_style


def compact_count(n: int) -> str:
    """At most 7 characters: 999,999 then 1.05M, 10.5M, 105M."""
    if n < 1_000_000:
        return f"{n:,}"
    if n < 1_000_000_000:
        return f"{n / 1e6:.3g}M"
    return f"{n / 1e9:.3g}G"


class StatusCounts(Static):
    """Counts per status; the active quick filter is highlighted."""

    class Picked(Message):
        def __init__(self, status: str | None) -> None:
            super().__init__()
            self.status = status

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.counts: dict[str, int] = {}
        self.active: str | None = None

    def show(self, counts: dict[str, int], active: str | None) -> None:
        self.counts = dict(counts)
        self.active = active
        self.update(self._counts_text())

    def _counts_text(self) -> Text:
        text = Text()
        total = sum(self.counts.values())
        lines = [("0", "all", None, total)] + [
            (str(i + 1), s, s, self.counts.get(s, 0)) for i, s in enumerate(STATUSES)]
        for key, label, status, n in lines:
            style = theme_style(self.app, STATUS_VARIABLES.get(status or "", "foreground"))
            active = status == self.active
            line = Text(f"{key} ", style=theme_style(self.app, "foreground-muted"))
            line.append(f"{label:<9}", style=f"{style} reverse" if active else style)
            line.append(f"{compact_count(n):>7}", style="bold" if active else "")
            text.append_text(line)
            text.append("\n")
        text.rstrip()
        return text

    def on_click(self, event) -> None:
        index = event.y - self.styles.padding.top
        options = [None, *STATUSES]
        if 0 <= index < len(options):
            self.post_message(self.Picked(options[index]))
