"""The ETA line under the task list: the selection's pending and running tasks, when they
will be done, the throughput, stalled tasks, and a sparkline of completions per hour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...eta import Estimate
from .theme_colors import theme_style


class EtaLine(Static):
    """Shows an :class:`~labtasker_tui.eta.Estimate` (computed by the screen)."""

    DEFAULT_CSS = """
    EtaLine {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.estimate: Estimate | None = None

    def show(self, est: Estimate | None) -> None:
        self.estimate = est
        self.update(self.render_estimate(est))

    def render_estimate(self, est: Estimate | None) -> Text:
        """'▁▂▃▅█ 24h  done in about 46 m · 1 stalled · median run 15 m 20 s × 4 slots · 5/h'
        (the counts by status are in the sidebar already)."""
        if est is None:
            return Text("ETA …")
        muted = theme_style(self.app, "foreground-muted")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(est.spark, style=theme_style(self.app, "primary"))
        line.append(" 24h  ", style=muted)
        line.append(est.eta_text(), style="bold" if est.seconds is not None else muted)
        if est.stalled:
            line.append(f" · {len(est.stalled):,} stalled",
                        style=theme_style(self.app, "warning", bold=True))
        line.append(f" · {est.short_basis()}", style=muted)
        return line
