"""Task argument parsing, value casting and ``task update`` assignments (spec §2.2–2.4, §5.3–5.5).

Pure functions, no I/O. :class:`ArgsError` is defined in :mod:`labtasker_tui.documents` and
re-exported here; import it from either module (same class).

Decisions on cases the spec leaves open:
- Casting (§2.4): ``ast.literal_eval`` (never ``eval``); any exception keeps the raw string,
  except that results which are not JSON are rejected ([REC]): complex, bytes, ``...``,
  ``1e400`` (inf), ints outside signed 64-bit, including decimal ints too long for Python's
  int-conversion limit. Tuples and sets become lists. Values longer than
  :data:`MAX_LITERAL_LEN` characters are not evaluated and stay strings (a shell argument is
  at most 128 KiB on Linux anyway); literals nested too deeply for the parser stay strings.
- Positional args (§2.3) with the [REC] fixes: after ``--KEY`` or ``-X``, a following token
  that reads as a number (``float()`` accepts it or it is an int/float literal: ``-1``,
  ``-0.5``, ``-1e5``, ``-0x10``, ``-inf``, ``-nan``) is the value. ``-inf``/``-nan`` are then
  cast like any value and so stay the strings ``"-inf"``/``"-nan"`` (as ``inf`` does);
  ``-1e400`` casts to -inf and is rejected. A number-looking token that is *not* preceded by an
  option keeps the upstream reading (``-1 5`` → ``{"1": "5"}``, ``-12`` dropped as grouped
  flags, ``-0.5`` → Unexpected token). Hence ``--x -1 5`` → ``Unexpected token: 5``.
  Dropped flags are returned so the caller can warn. Keys are ASCII only.
- Assignments (§5.3): the value may contain newlines; ``FIELD=value`` and
  ``FIELD.path=value`` expand dotted keys of object values at every level ([REC] §1.3);
  sub-paths are only allowed under ``args``/``metadata``/``summary``. :func:`apply_assignments`
  returns every field named by an assignment, even when its new value equals the old one.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from labtasker_tui.documents import (
    ArgsError,
    check_json_value,
    expand_dotted,
    validate_keys,
)
from labtasker_tui.fields import COLUMN_ALIASES, NESTED_FIELDS, UPDATABLE_FIELDS
from labtasker_tui.fields import READ_ONLY_FIELDS as _TASK_READ_ONLY

__all__ = [
    "ArgsError",
    "MAX_LITERAL_LEN",
    "UPDATABLE_FIELDS",
    "READ_ONLY_FIELDS",
    "NESTED_FIELDS",
    "cast_value",
    "parse_dict_literal",
    "parse_cli_args",
    "parse_assignment",
    "apply_assignments",
]

MAX_LITERAL_LEN = 100_000
"""Longest value (in characters) handed to ``ast.literal_eval``."""

# a read-only field's store column name ("queue" for queue_id) is read-only too
READ_ONLY_FIELDS: tuple[str, ...] = (*_TASK_READ_ONLY, *COLUMN_ALIASES)
RESET_PENDING_READ_ONLY: tuple[str, ...] = ("status", "retries")

_LONG_OPT = re.compile(r"--([a-zA-Z0-9_.-]+)(?:=(.*))?", re.DOTALL)
_SHORT_OPT = re.compile(r"-([a-zA-Z0-9_])")
_GROUPED_FLAGS = re.compile(r"-[a-zA-Z0-9_]{2,}")
_ASSIGNMENT = re.compile(r"(?!-)([a-zA-Z0-9_.-]+)=(.*)", re.DOTALL)
_DECIMAL_INT = re.compile(r"[ \t]*[+-]?[0-9][0-9_]*\s*")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cast_value(raw: str, *, where: str = "value") -> Any:
    """Cast a command-line value string (§2.4).

    ``ast.literal_eval(raw)``; if that fails the raw string is returned unchanged. Results that
    are not JSON raise :class:`ArgsError` naming ``where`` and the raw value; tuples and sets
    become lists.
    """
    if len(raw) > MAX_LITERAL_LEN:
        return raw
    try:
        value = ast.literal_eval(raw)
    except Exception as exc:  # SyntaxError, ValueError, TypeError, RecursionError, ...
        if "integer string conversion" in str(exc) and _DECIMAL_INT.fullmatch(raw):
            # Python's int-conversion digit limit: certainly outside 64 bits.
            raise _not_json(where, raw, "integer outside the signed 64-bit range") from None
        return raw
    try:
        return check_json_value(value, where)
    except ArgsError as exc:
        raise _not_json(where, raw, _reason(exc)) from None


def _not_json(where: str, raw: str, reason: str) -> ArgsError:
    return ArgsError(f"{where}: {_shorten(raw)!r} is not a JSON value ({reason})")


def _reason(exc: ArgsError) -> str:
    """The parenthesised reason of a :func:`check_json_value` error."""
    text = str(exc)
    if text.endswith(")") and " (" in text:
        return text[text.rindex(" (") + 2 : -1]
    return text.split(": ", 1)[-1]


def parse_dict_literal(text: str, field: str) -> dict[str, Any] | None:
    """Parse ``--args``/``--metadata`` text (§2.2): JSON first, then a Python dict literal.

    Returns ``None`` for an empty (or blank) string, meaning "not given". The result is checked
    for JSON-ness, dotted keys are expanded at every object level and key rules are enforced.
    Errors raise :class:`ArgsError` ``"<field>: Invalid dict str: …"``.
    """
    if not text.strip():
        return None
    try:
        # NaN/Infinity parse as floats here so the check below names their path
        value: Any = json.loads(text)
    except RecursionError:
        raise ArgsError(f"{field}: Invalid dict str: nested too deeply.") from None
    except ValueError:
        if len(text) > MAX_LITERAL_LEN:
            raise ArgsError(
                f"{field}: Invalid dict str: not valid JSON, and too long "
                f"({len(text)} > {MAX_LITERAL_LEN} characters) for a Python literal."
            ) from None
        try:
            value = ast.literal_eval(text)
        except Exception as exc:
            detail = exc.msg if isinstance(exc, SyntaxError) else "malformed node or string"
            raise ArgsError(
                f"{field}: Invalid dict str: not a JSON object or Python dict literal "
                f"({detail}): {_shorten(text)!r}"
            ) from None
    if not isinstance(value, dict):
        raise ArgsError(f"{field}: Invalid dict str: Input must be a dictionary.")
    try:
        value = check_json_value(value, field)
    except RecursionError:
        raise ArgsError(f"{field}: Invalid dict str: nested too deeply.") from None
    doc = expand_dotted(value, field)
    validate_keys(doc, field)
    return doc


def _reads_as_number(token: str) -> bool:
    """True for tokens such as ``-1``, ``-0.5``, ``-1e5``, ``-0x10``, ``-inf``."""
    try:
        float(token)
    except ValueError:
        pass
    else:
        return True
    if len(token) > 100:
        return False
    try:
        value = ast.literal_eval(token)
    except Exception:
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def _takes_value(tokens: list[str], index: int) -> bool:
    if index >= len(tokens):
        return False
    token = tokens[index]
    return not token.startswith("-") or _reads_as_number(token)


def parse_cli_args(tokens: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Parse the tokens after ``--`` of ``task submit`` into an args dict (§2.3 with [REC]).

    Returns ``(args, dropped)`` where ``dropped`` lists the flags that had no value and were
    dropped, in order (the caller warns about each). ``--KEY VALUE``/``--KEY=VALUE`` values are
    cast (:func:`cast_value`); ``-X VALUE`` values stay strings. Dashes in long keys become
    underscores; the last of repeated keys wins; dotted keys are expanded and validated.
    Raises :class:`ArgsError` (``Unexpected token: X``, key conflicts, invalid keys, non-JSON
    values).
    """
    flat: dict[str, Any] = {}
    dropped: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if m := _LONG_OPT.fullmatch(token):
            key = m.group(1).replace("-", "_")
            if m.group(2) is not None:
                flat[key] = cast_value(m.group(2), where=f"--{m.group(1)}")
            elif _takes_value(tokens, i + 1):
                i += 1
                flat[key] = cast_value(tokens[i], where=f"--{m.group(1)}")
            else:
                dropped.append(token)
        elif m := _SHORT_OPT.fullmatch(token):
            if _takes_value(tokens, i + 1):
                i += 1
                flat[m.group(1)] = tokens[i]
            else:
                dropped.append(token)
        elif _GROUPED_FLAGS.fullmatch(token):
            dropped.append(token)
        else:
            raise ArgsError(f"Unexpected token: {token}")
        i += 1
    args = expand_dotted(flat, "args")
    validate_keys(args, "args")
    return args, dropped


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """Parse one ``KEY=VALUE`` update (§5.3) into ``(key path, cast value)``.

    The key (``^(?!-)[a-zA-Z0-9_.-]+``) has dashes turned into underscores and is split on
    dots; the value is everything after the first ``=``, cast with :func:`cast_value`.
    """
    m = _ASSIGNMENT.fullmatch(text)
    if m is None:
        if "=" not in text:
            raise ArgsError(f"Invalid update: {text}. Expected KEY=VALUE.")
        raise ArgsError(
            f"Invalid update: {text}. No matching pattern: expected KEY=VALUE, KEY made of "
            "letters, digits, '_', '-' and '.', not starting with '-', no spaces around '='."
        )
    raw_key, raw_value = m.groups()
    key = raw_key.replace("-", "_")
    path = key.split(".")
    if "" in path:
        raise ArgsError(
            f"Invalid update: {text}. Key '{key}' is not valid. "
            "Keys must be valid dot-separated strings."
        )
    try:
        value = cast_value(raw_value, where=key)
    except ArgsError as exc:
        raise ArgsError(f"Invalid update: {_shorten(text)}. {exc}") from None
    return path, value


def _normalise_object(value: Any, where: str, text: str) -> Any:
    """Expand dotted keys in an object value and check its keys; other values pass through."""
    if not isinstance(value, dict):
        return value
    try:
        value = expand_dotted(value, where)
        validate_keys(value, where)
    except ArgsError as exc:
        raise ArgsError(f"Invalid update: {_shorten(text)}. {exc}") from None
    return value


def apply_assignments(
    task: Mapping[str, Any],
    assignments: Iterable[str],
    *,
    reset_pending: bool = False,
) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` updates left to right to ``task`` (a mapping of §1.1 fields).

    Returns ``{field: whole new value}`` for every top-level field named by an assignment; the
    task itself is not modified. ``FIELD=value`` replaces the field (discarding earlier sub-path
    updates of it); ``FIELD.a.b=value`` (``args``/``metadata``/``summary`` only) sets that path,
    creating missing objects. Types are not validated here beyond JSON-ness.
    """
    read_only = set(READ_ONLY_FIELDS)
    if reset_pending:
        read_only.update(RESET_PENDING_READ_ONLY)
    changed: dict[str, Any] = {}
    for text in assignments:
        path, value = parse_assignment(text)
        field = path[0]
        if field in read_only:
            why = " (it is reset by reset-pending)" if field in RESET_PENDING_READ_ONLY else ""
            raise ArgsError(f"Invalid update: {_shorten(text)}. field '{field}' is read-only{why}")
        if field not in UPDATABLE_FIELDS:
            raise ArgsError(
                f"Invalid update: {_shorten(text)}. '{field}' is not an updatable field "
                f"(one of: {', '.join(UPDATABLE_FIELDS)})"
            )
        value = _normalise_object(value, ".".join(path), text)
        if len(path) == 1:
            changed[field] = value
            continue
        if field not in NESTED_FIELDS:
            raise ArgsError(
                f"Invalid update: {_shorten(text)}. '{field}' has no sub-fields; only "
                f"{', '.join(NESTED_FIELDS)} take a dotted path"
            )
        if field in changed:
            root = changed[field]
        else:
            root = copy.deepcopy(task.get(field))
            if root is None:
                root = {}
        if not isinstance(root, dict):
            raise ArgsError(f"cannot set {'.'.join(path)}: {field} is not an object")
        current = root
        for depth, part in enumerate(path[1:-1], start=2):
            if part not in current:
                current[part] = {}
            elif not isinstance(current[part], dict):
                raise ArgsError(
                    f"cannot set {'.'.join(path)}: {'.'.join(path[:depth])} is not an object"
                )
            current = current[part]
        current[path[-1]] = value
        changed[field] = root
    return changed
