"""One sort syntax for the CLI (``-S``), saved views and the app's ``S`` prompt.

A sort key is ``path``, ``-path`` (descending), ``+path``, ``path:asc`` or ``path:desc``;
several keys are separated by commas or spaces. ``path`` is a task field (``priority``,
``created_at``...) or a dotted path under ``args``, ``metadata`` or ``summary``. Unknown
fields and malformed paths (``foo..bar``) are rejected like unknown filter fields, with the
caret display. Kept light: no SQLAlchemy, so ``--help`` and the parser stay fast.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .fields import FIELD_ORDER, NESTED_FIELDS
from .query.errors import FilterError

SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")
SORTABLE = (*FIELD_ORDER, "_id")
DIRECTIONS = {"asc": False, "desc": True}

SortKeys = list[tuple[str, bool]]


class SortError(FilterError):
    """An invalid sort key (bad input: exit 2, or an error toast in the app)."""

    @property
    def user_message(self) -> str:
        return f"Invalid sort: {self.message}"

    def render(self) -> str:
        return super().render().replace("Error when parsing query", "Error when parsing sort")


def _check_path(path: str, text: str, at: int) -> None:
    """Raise SortError unless ``path`` names a task field or a path under a nested field."""
    segments = path.split(".")
    pos = at
    for i, seg in enumerate(segments):
        if not seg:
            what = "an empty segment" if i else "an empty field name"
            raise SortError(f"malformed sort path {path!r}: {what} (write a.b.c)", text, pos + 1)
        if not SEGMENT.fullmatch(seg):
            raise SortError(f"malformed sort path {path!r}: use letters, digits, '_' and '-'"
                            " in each segment", text, pos + 1)
        pos += len(seg) + 1
    head = segments[0]
    if head not in SORTABLE:
        near = difflib.get_close_matches(head, SORTABLE, n=1)
        if near:
            hint = f" Maybe you meant {near[0]!r}?"
        elif len(segments) == 1:
            hint = f" Maybe you meant 'args.{head}'?"
        else:
            hint = ""
        raise SortError(f"unknown sort field {head!r}.{hint} Sort by a task field"
                        f" ({', '.join(f for f in FIELD_ORDER if f not in NESTED_FIELDS)}) or"
                        " a path under args., metadata. or summary.", text, at + 1)
    if len(segments) > 1 and head not in NESTED_FIELDS:
        raise SortError(f"{head!r} has no sub-fields: sort by {head} itself", text,
                        at + len(head) + 1)


def parse_key(item: str, text: str | None = None, at: int = 0) -> tuple[str, bool]:
    """One key: ``-a.b``, ``+a.b``, ``a.b``, ``a.b:asc`` or ``a.b:desc`` -> (path, desc)."""
    text = item if text is None else text
    body = item
    desc = False
    sign = body[:1] if body[:1] in "+-" else ""
    if sign:
        desc = sign == "-"
        body = body[1:]
        at += 1
    if ":" in body:
        body, _, direction = body.partition(":")
        if direction.lower() not in DIRECTIONS:
            raise SortError(f"invalid order {direction!r} in sort {item!r}: use asc or desc",
                            text, at + len(body) + 2)
        if sign:
            raise SortError(f"sort {item!r} gives the order twice: write -{body} or"
                            f" {body}:desc", text, at)
        desc = DIRECTIONS[direction.lower()]
    _check_path(body, text, at)
    return body, desc


def parse_sort_text(text: str) -> SortKeys:
    """``-summary.acc, priority`` / ``summary.acc:desc priority:asc`` -> keys ([] if empty)."""
    out: SortKeys = []
    for m in re.finditer(r"[^\s,]+", text):
        out.append(parse_key(m.group(), text, m.start()))
    return out


def parse_sort_options(values: Iterable[str]) -> SortKeys:
    """Repeated ``-S`` values (each may hold several keys)."""
    out: SortKeys = []
    for value in values:
        out += parse_sort_text(value)
    return out


def sort_spec(keys: SortKeys) -> str:
    """The text form that parses back to ``keys``."""
    return ", ".join(("-" if desc else "") + path for path, desc in keys)
