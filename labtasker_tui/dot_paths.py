"""Dot paths into a task's args (``a.b``, ``x.0``): the grammar shared by ``%(path)``
command placeholders (worker/template.py) and required fields (store/claims.py).

Each segment is an identifier or a non-negative integer (an integer is a dict key string).
"""

from __future__ import annotations

import re

SEGMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


def parse_dot_path(text: str, *, allow_star: bool = False) -> tuple[str, ...]:
    """A dot path into its segments (``*`` alone when ``allow_star``); ValueError if invalid."""
    stripped = text.strip()
    if allow_star and stripped == "*":
        return ("*",)
    segments = stripped.split(".")
    if not stripped or any(not SEGMENT_RE.fullmatch(s) for s in segments):
        raise ValueError(
            f"invalid field path {text!r}: use dot-separated names or integers, e.g. a.b or x.0")
    return tuple(segments)
