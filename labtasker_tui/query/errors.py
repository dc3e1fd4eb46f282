"""The one error type for invalid user filters (both syntaxes), with a caret display."""

from __future__ import annotations

import re
import unicodedata

from ..errors import UserError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTEXT = 50  # characters shown on each side of the error column
_CONTEXT_HEADER = "Err context: "


def split_lines(text: str) -> list[str]:
    """Split on the line breaks Python's tokenizer knows (not str.splitlines, which has more)."""
    return _LINE_BREAK.split(text)


def _cell_width(text: str) -> int:
    """Terminal cells taken by ``text`` (wide East Asian = 2, combining marks = 0)."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


#: What a filter raising in the database puts before its message (see ``Dialect.expr_raise``).
RAISED_MARKER = "labtasker filter error: "
_RAISED = re.compile(re.escape(RAISED_MARKER) + r'([^"\n]*)')


def filter_error_from_database(exc: BaseException) -> FilterError | None:
    """The filter error a statement raised in the database (PostgreSQL reports the text in its
    own message), or None."""
    found = _RAISED.search(str(exc))
    return FilterError(found.group(1)) if found else None


class FilterError(UserError):
    """A filter the user wrote is invalid.

    message: one line; text: the filter; column: 1-based or None; line: 1-based.
    """

    def __init__(
        self, message: str, text: str = "", column: int | None = None, line: int = 1
    ) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.column = column
        self.line = line

    def __repr__(self) -> str:
        return (
            f"FilterError({self.message!r}, text={self.text!r}, "
            f"column={self.column!r}, line={self.line!r})"
        )

    @property
    def user_message(self) -> str:
        return f"Invalid filter: {self.message}"

    def render(self) -> str:
        """The caret display (spec §4.5); just ``Error: <message>`` when there is no column."""
        lines = split_lines(self.text)
        if self.column is None or not self.text or not 1 <= self.line <= len(lines):
            return f"Error: {self.message}"
        src = lines[self.line - 1].replace("\t", " ")
        col0 = min(max(self.column - 1, 0), len(src))
        start = max(0, col0 - _CONTEXT)
        end = min(len(src), col0 + _CONTEXT + 1)
        head = "..." if start > 0 else ""
        tail = "..." if end < len(src) else ""
        context = f"{head}{src[start:end]}{tail}"
        pad = " " * (len(_CONTEXT_HEADER) + _cell_width(head + src[start:col0]))
        return "\n".join(
            [
                f"Error when parsing query at line {self.line}, column {self.column}:",
                f"{_CONTEXT_HEADER}{context}",
                f"{pad}^  <-- Error here (Column: {self.column})",
                f"Error: {self.message}",
            ]
        )
