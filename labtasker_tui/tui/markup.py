"""User data inside Textual markup: shown as typed, never parsed as tags or variables."""

from __future__ import annotations

from typing import Any

from ..safe_text import inert, inert_lines


def esc(value: object) -> str:
    """``value`` as markup text that renders exactly as ``inert_lines(str(value))``.

    Textual's markup reads ``[`` as the start of a tag (``[b]``, ``[/]``, ``[$accent]``);
    a backslash before it makes it literal, and backslashes elsewhere are kept as they are.
    (``rich.markup.escape`` leaves ``[$var]`` and ``[0.1, 0.2)`` alone, which Textual drops
    or rejects.)"""
    return inert_lines(str(value)).replace("[", "\\[")


class PlainNotify:
    """Mixin for screens: toasts show their text as typed (messages quote user values)."""

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        super().notify(inert_lines(str(message)), title=inert(str(title)),  # type: ignore[misc]
                       severity=severity, timeout=timeout, markup=markup)
