"""Regular expressions of filters: the Python-syntax search SQLite runs (with a deadline) and
the translation to PostgreSQL's ARE. Plain Python (no SQLAlchemy)."""

from __future__ import annotations

import functools
import re

import regex

from labtasker_tui.query.errors import FilterError

#: A regular expression may spend at most this long on one value (the ``regex`` package
#: checks its deadline while backtracking; the standard ``re`` cannot be interrupted).
REGEX_TIMEOUT_S = 1.0

_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, flags: str) -> regex.Pattern[str]:
    """``pattern`` with Mongo ``$options`` letters ``flags``, in the syntax of Python's re."""
    fl = regex.VERSION0
    for ch in flags:
        fl |= _FLAGS.get(ch, 0)
    return regex.compile(pattern, fl)


def regex_search(pattern: object, flags: object, value: object) -> int:
    """1 when ``pattern`` finds a match in the string ``value``, else 0 (non-strings and
    invalid patterns: 0). Raises FilterError when the search outlives REGEX_TIMEOUT_S."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    try:
        compiled = compile_regex(pattern, flags if isinstance(flags, str) else "")
    except (regex.error, re.error, ValueError, OverflowError, RecursionError):
        return 0
    try:
        return 1 if compiled.search(value, timeout=REGEX_TIMEOUT_S) else 0
    except TimeoutError:
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        raise FilterError(
            f"regex {shown!r} took longer than {REGEX_TIMEOUT_S:g} s on one value;"
            " simplify it (avoid nested quantifiers such as (a+)+)") from None


_PY_INLINE = re.compile(r"^\(\?([aiLmsux]+)\)")
_QUANT = re.compile(r"\{\d+(,\d*)?\}")
_PG_UNSUPPORTED = (
    ("(?>", "atomic groups"), ("(?P=", "named back-references"), ("\\p{", "\\p{...}"),
    ("\\P{", "\\P{...}"), ("\\N{", "\\N{...}"), ("\\K", "\\K"), ("\\G", "\\G"),
)


def regex_to_postgres(pattern: str, flags: str) -> str:
    """A Python-style pattern as a PostgreSQL ARE with embedded options.

    Leading inline flags are folded into the options; ``\\b``/``\\B`` become ``\\y``/``\\Y``;
    named groups become plain groups (``(?P=name)`` -> ``\\N``); a ``{`` that starts no
    quantifier is escaped. Default ``.`` does not match a newline (as in PCRE and Python);
    ``s`` lets it, ``m`` makes ``^``/``$`` match at line breaks. Constructs PostgreSQL lacks
    raise ValueError.
    """
    fl = set(flags)
    while True:
        m = _PY_INLINE.match(pattern)
        if not m:
            break
        fl |= set(m.group(1)) & set("imsx")
        pattern = pattern[m.end():]
    out: list[str] = []
    groups: dict[str, int] = {}
    ngroups = 0
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt == "b":
                out.append("\\y")
            elif not in_class and nxt == "B":
                out.append("\\Y")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?P<", i):
            end = pattern.find(">", i)
            if end > 0:
                ngroups += 1
                groups[pattern[i + 4:end]] = ngroups
                out.append("(")
                i = end + 1
                continue
        if pattern.startswith("(?P=", i):
            end = pattern.find(")", i)
            name = pattern[i + 4:end] if end > 0 else ""
            if name in groups:
                out.append(f"\\{groups[name]}")
                i = end + 1
                continue
        if pattern.startswith("(?", i) and i + 2 < len(pattern) and pattern[i + 2] in "aiLmsux-":
            raise ValueError("scoped inline flags like (?i:...) are not supported on "
                             "PostgreSQL; put the flags at the start: (?i)...")
        if ch == "(" and not pattern.startswith("(?", i):
            ngroups += 1
        if ch == "{" and not _QUANT.match(pattern, i):
            out.append("\\{")
            i += 1
            continue
        if ch in "*+?}" and i + 1 < len(pattern) and pattern[i + 1] == "+":
            raise ValueError("possessive quantifiers are not supported on PostgreSQL")
        out.append(ch)
        i += 1
    body = "".join(out)
    for needle, what in _PG_UNSUPPORTED:
        if needle in body:
            raise ValueError(f"{what} in a regular expression is not supported on PostgreSQL")
    opts = ""
    if "i" in fl:
        opts += "i"
    if "x" in fl:
        opts += "x"
    m_, s_ = "m" in fl, "s" in fl
    opts += {(False, False): "p", (True, False): "n", (False, True): "s", (True, True): "w"}[
        (m_, s_)]
    return f"(?{opts}){body}"
