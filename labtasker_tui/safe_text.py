"""User values made inert for a terminal: control characters shown as escapes, not obeyed.

Task args, metadata, summary, cmd and their keys may hold any string: an ESC sequence would
retitle or clear the terminal, a CR or backspace would overwrite what was printed, a bidi
override would reorder the line and a lone surrogate cannot even be encoded. Every place that
shows such a value on a terminal (``ls`` tables, ``facets``, the app's cells and detail pane)
passes it through :func:`inert`. Data formats (JSON, JSONL, YAML) keep the exact value.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks, line/paragraph
# separators, lone surrogates
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def inert(text: str) -> str:
    """``text`` with every control character replaced by a visible escape (``\\x1b``,
    ``\\u202e``); other characters, including backslashes and non-ASCII letters, unchanged."""
    if text.isprintable():  # the common case: nothing to escape (isprintable is False for
        return text         # every character the pattern matches)
    return _UNSAFE.sub(_escape, text)


def inert_lines(text: str) -> str:
    """:func:`inert` line by line: the line breaks themselves are kept."""
    return "\n".join(inert(line) for line in text.split("\n"))
