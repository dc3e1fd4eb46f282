"""Key rules, dotted-key expansion and JSON-value checks for ``args``/``metadata``/``summary``.

Pure functions, no I/O (spec §1.2, §1.3, §2.2 [REC]).

Decisions:
- Dotted keys are expanded at every *object* level ([REC] §1.3), but not inside lists: objects
  nested in lists are opaque data, exactly as their keys are not validated (§1.2 [UP]).
- Expansion is order-independent: two objects at the same path are merged recursively
  (``{"a": {"b": 1}, "a.c": 2}`` and ``{"a.c": 2, "a": {"b": 1}}`` both give
  ``{"a": {"b": 1, "c": 2}}``); a scalar meeting an object is a conflict; the same leaf given twice
  (``{"a": {"b": 1}, "a.b": 2}``) is a conflict too rather than a silent overwrite.
- Conflict messages name the full dotted path from the field's root.
- Non-JSON values are rejected: complex, bytes, Ellipsis, inf/nan floats, ints outside signed
  64-bit, non-string keys, strings with lone surrogates (not storable as UTF-8) or NUL
  characters (on SQLite a NUL truncates comparisons), nesting deeper than :data:`MAX_DEPTH`
  (dotted keys count one level per segment). Tuples and sets become lists (sets sorted, for a
  stable order). ``-0.0`` becomes ``0.0`` (PostgreSQL's jsonb cannot keep the sign, so every
  backend stores the same value).
- :func:`validate_document` is the one validator of every way in (``--args``, ``--file``,
  ``import``, ``update``, the editor, the job API). Only the job API stores non-finite floats,
  as the strings of :data:`NONFINITE_TEXT` (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from .errors import UserError

__all__ = [
    "ArgsError",
    "KEY_PATTERN",
    "SEGMENT_PATTERN",
    "MAX_DEPTH",
    "INT64_MIN",
    "INT64_MAX",
    "validate_keys",
    "expand_dotted",
    "check_json_value",
    "validate_document",
    "nonfinite_text",
    "NONFINITE_TEXT",
    "MALFORMED_KEY",
    "flatten",
]

KEY_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$")
"""A flattened key path (§1.2)."""

SEGMENT_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
"""One segment of a key path."""

MAX_DEPTH = 256
"""Deepest nesting of lists/objects accepted in a value."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

NONFINITE_TEXT = ("NaN", "Infinity", "-Infinity")
"""How the job API (and the repair of old rows) stores NaN, +inf and -inf: as these strings."""

MALFORMED_KEY = "labtasker_malformed"
"""A stored JSON value that cannot be parsed at all reads as ``{MALFORMED_KEY: "<raw text>"}``."""


def nonfinite_text(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` for a non-finite float."""
    if value != value:
        return NONFINITE_TEXT[0]
    return NONFINITE_TEXT[1] if value > 0 else NONFINITE_TEXT[2]


class ArgsError(UserError):
    """Bad user input in args/metadata/summary/updates; the message is one line naming what and
    where (the CLI shows it as a usage error, exit 2)."""


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _leaf_paths(doc: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted path, value)`` for every leaf; empty objects and lists are leaves."""
    for key, value in doc.items():
        path = _join(prefix, str(key))
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, path)
        else:
            yield path, value


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """Flatten nested objects to ``{"a.b": leaf}`` (lists and empty objects are leaves)."""
    return dict(_leaf_paths(doc))


def validate_keys(doc: dict[str, Any], field: str) -> None:
    """Raise :class:`ArgsError` unless every flattened key path matches :data:`KEY_PATTERN`.

    Keys of objects inside lists are not checked (§1.2 [UP]).
    """
    for path, _ in _leaf_paths(doc):
        if not KEY_PATTERN.match(path):
            raise ArgsError(
                f"{field}: Key '{path}' is not valid. Keys must be valid dot-separated strings."
            )


def _conflict(field: str, path: str, why: str) -> ArgsError:
    return ArgsError(f"{field}: Conflict detected at key: {path}. {why}")


def _merge_into(target: dict[str, Any], key: str, value: Any, field: str, path: str) -> None:
    """Put ``value`` at ``target[key]``, merging objects; ``path`` is the full path of the key."""
    if key not in target:
        target[key] = value
        return
    existing = target[key]
    if isinstance(existing, dict) and isinstance(value, dict):
        for sub_key, sub_value in value.items():
            _merge_into(existing, sub_key, sub_value, field, _join(path, sub_key))
        return
    if isinstance(existing, dict) or isinstance(value, dict):
        raise _conflict(field, path, "Cannot merge nested and non-nested keys.")
    raise _conflict(field, path, "The same key is given more than once.")


def _expand(doc: dict[str, Any], field: str, prefix: str, depth: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in doc.items():
        parts = key.split(".")
        full = _join(prefix, key)
        if depth + len(parts) > MAX_DEPTH:
            shown = full if len(full) <= 60 else full[:57] + "..."
            raise ArgsError(f"{field}: key {shown!r} is nested too deeply "
                            f"(more than {MAX_DEPTH} levels)")
        if isinstance(value, dict):
            value = _expand(value, field, full, depth + len(parts))
        current = result
        walked = prefix
        for part in parts[:-1]:
            walked = _join(walked, part)
            nxt = current.get(part)
            if nxt is None and part not in current:
                nxt = current[part] = {}
            elif not isinstance(nxt, dict):
                raise _conflict(field, walked, "Cannot merge nested and non-nested keys.")
            current = nxt
        _merge_into(current, parts[-1], value, field, full)
    return result


def expand_dotted(doc: dict[str, Any], field: str) -> dict[str, Any]:
    """Return a copy of ``doc`` with dotted keys expanded into nested objects at every object
    level outside lists (``{"a.b": 1}`` → ``{"a": {"b": 1}}``).

    Raises :class:`ArgsError` ``"<field>: Conflict detected at key: <path>. …"`` when a scalar
    and an object (or the same leaf twice) meet. The input is not modified. Empty segments
    (``"a..b"``) are kept as empty keys, so :func:`validate_keys` reports them afterwards.
    """
    return _expand(doc, field, "")


def _json_error(where: str, value: Any, reason: str) -> ArgsError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ArgsError(f"{where}: {shown} is not a JSON value ({reason})")


def _set_sort_key(item: Any) -> tuple[str, str]:
    return (type(item).__name__, repr(item))


def _check_text(value: str, where: str) -> str:
    if "\x00" in value:
        raise _json_error(where, value, "string with a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _json_error(where, value, "string with a lone surrogate") from None
    return str(value)


def _check(value: Any, where: str, depth: int, nonfinite: bool = False) -> Any:
    if depth > MAX_DEPTH:
        raise ArgsError(f"{where}: value is nested too deeply (more than {MAX_DEPTH} levels)")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _json_error(where, value, "integer outside the signed 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            if nonfinite:
                return nonfinite_text(value)
            raise _json_error(where, value, "infinite or NaN float")
        return 0.0 if value == 0.0 else float(value)  # -0.0 -> 0.0
    if isinstance(value, str):
        if nonfinite:  # the job API records what it can: NUL/lone surrogates replaced
            value = value.replace("\x00", "\ufffd")
            if not _encodable(value):
                value = value.encode("utf-8", "replace").decode("utf-8")
        return _check_text(value, where)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _json_error(where, key, "object keys must be strings")
            _check_text(key, f"{where} (a key)")
            out[key] = _check(item, _join(where, key), depth + 1, nonfinite)
        return out
    if isinstance(value, list | tuple):
        return [_check(item, f"{where}[{i}]", depth + 1, nonfinite)
                for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        try:
            items = sorted(value)
        except TypeError:
            items = sorted(value, key=_set_sort_key)
        return [_check(item, f"{where}[{i}]", depth + 1, nonfinite)
                for i, item in enumerate(items)]
    if isinstance(value, complex):
        raise _json_error(where, value, "complex number")
    if isinstance(value, bytes | bytearray):
        raise _json_error(where, value, "bytes")
    raise _json_error(where, value, type(value).__name__)


class _Slow(Exception):  # noqa: N818 - control flow
    """The fast walk met something it does not handle: the exact walk decides (and words the
    error)."""


_SLOW = _Slow()


def _fast(value: Any, depth: int, keys: list[bool] | None) -> None:
    """Check plain JSON data (what ``json.loads`` returns) about five times faster than
    :func:`_check`: exact types only, no copy, no path strings. Anything unusual or wrong
    (including -0.0, which must be normalised) raises :class:`_Slow`. ``keys`` (outside lists)
    is set to ``[True]`` when a key has a dot or is not a plain segment, so only then are keys
    expanded and checked one by one."""
    if depth >= MAX_DEPTH:
        raise _SLOW
    t = type(value)
    if t is dict:
        seg = SEGMENT_PATTERN.match
        items: Any = value.items()
        for key, _ in items:
            if type(key) is not str or "\x00" in key or not (key.isascii() or _encodable(key)):
                raise _SLOW
            if keys is not None and not seg(key):
                keys[0] = True
        items = value.values()
    elif t is list:
        items = value
        keys = None
    else:
        raise _SLOW
    for item in items:
        t = type(item)
        if t is str:
            if "\x00" in item or not (item.isascii() or _encodable(item)):
                raise _SLOW
        elif t is float:
            if item - item != 0.0 or (item == 0.0 and str(item)[0] == "-"):
                raise _SLOW  # non-finite, or -0.0
        elif t is int:
            if not INT64_MIN <= item <= INT64_MAX:
                raise _SLOW
        elif t is dict or t is list:
            _fast(item, depth + 1, keys)
        elif item is not None and t is not bool:
            raise _SLOW


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json_value(value: Any, where: str) -> Any:
    """Return ``value`` as plain JSON data (tuples/sets → lists) or raise :class:`ArgsError`
    ``"<where>: <value> is not a JSON value (<reason>)"``.

    ``where`` names the place, e.g. ``"args"`` or ``"args.lr"``; nested positions are appended.
    """
    if type(value) in (dict, list):
        try:
            _fast(value, 0, None)
            return value
        except (_Slow, RecursionError):
            pass
    try:
        return _check(value, where, 0)
    except RecursionError:
        raise ArgsError(f"{where}: value is nested too deeply") from None


def validate_document(value: Any, field: str, *, nonfinite_as_text: bool = False
                      ) -> dict[str, Any]:
    """The one check of an ``args``/``metadata``/``summary`` object from any way in.

    Returns a normalised copy: JSON values only (see :func:`check_json_value`), dotted keys
    expanded, key rules enforced. ``nonfinite_as_text`` (the job API only, which must not fail
    a job over a value it can record) stores NaN/±inf as the strings of :data:`NONFINITE_TEXT`
    and replaces NUL characters (U+FFFD) and lone surrogates ("?") in string values instead of
    rejecting them; keys are checked as everywhere.
    """
    if not isinstance(value, dict):
        raise ArgsError(f"{field}: expected an object, got {type(value).__name__}")
    keys = [False]
    try:
        _fast(value, 0, keys)
    except (_Slow, RecursionError):
        keys[0] = True
        try:
            value = _check(value, field, 0, nonfinite_as_text)
        except RecursionError:
            raise ArgsError(f"{field}: value is nested too deeply") from None
    if keys[0]:
        value = expand_dotted(value, field)
        validate_keys(value, field)
    doc: dict[str, Any] = value
    return doc
