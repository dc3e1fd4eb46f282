"""Theme variables as Rich styles (for cells and Rich Text, which cannot use TCSS)."""

from __future__ import annotations

from textual.app import App
from textual.color import Color, ColorParseError

#: the theme variable each status is shown in (table cells, counts, the filter screen)
STATUS_VARIABLES: dict[str, str] = {
    "pending": "warning",
    "running": "primary",
    "success": "success",
    "failed": "error",
    "cancelled": "foreground-muted",
}


def theme_style(app: App, variable: str, *, bold: bool = False) -> str:
    """The theme colour ``variable`` (alpha blended onto the background) as a Rich style."""
    variables = app.theme_variables
    raw = variables.get(variable) or variables.get("foreground", "")
    try:
        colour = Color.parse(raw)
        if colour.a < 1:
            colour = Color.parse(variables.get("background", "#000000")) + colour
        style = colour.hex6
    except ColorParseError:  # a theme without this colour: the terminal's default
        style = ""
    return f"bold {style}".strip() if bold else style
