"""Text from the database shown on a terminal: control characters escaped, never raw."""

from __future__ import annotations

import unicodedata

_ESCAPED = ("Cc", "Cf", "Cs", "Zl", "Zp")


def inert(text: str) -> str:
    """Control characters, escape sequences and bidi overrides shown escaped (``\\x1b``)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _ESCAPED:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
