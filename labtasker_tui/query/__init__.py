"""Filters: text (Python-native or MongoDB syntax) -> Mongo dict -> IR -> SQL.

>>> compiled = parse_filter("args.lr > 0.01 and status == 'pending'")
>>> where = filter_to_sql(compiled, "sqlite")      # a SQLAlchemy boolean expression
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labtasker_tui.query.errors import FilterError
from labtasker_tui.query.ir import IR

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

__all__ = ["CompiledFilter", "FilterError", "filter_to_sql", "is_mongo_document", "parse_filter",
           "parse_mongo_text"]


@dataclass(frozen=True)
class CompiledFilter:
    """A validated filter: the text as given, its Mongo dict, and the IR."""

    text: str
    mongo: dict[str, Any]
    ir: IR


def parse_filter(text: str | dict[str, Any] | None) -> CompiledFilter | None:
    """Parse a filter in either syntax (spec §4.1); ``None`` when there is no filter.

    Text that is one ``{...}`` is a Mongo document: JSON first (``{"$date": "<iso>"}`` is a
    datetime), then a Python dict literal (``ast.literal_eval``, never ``eval``). Anything
    else, a comparison that starts with a dict literal (``{'a': 1} == args.opt``) included, is
    the Python-native syntax.
    """
    from labtasker_tui.query.mongo import mongo_to_ir

    if text is None:
        return None
    if isinstance(text, dict):
        mongo = text
        source = _dumps(text)
    elif isinstance(text, str):
        source = text
        stripped = text.strip()
        if not stripped:
            return None
        _check_text(text)
        if is_mongo_document(stripped):
            mongo = parse_mongo_text(text)
        else:
            from labtasker_tui.query.python_syntax import python_to_mongo

            mongo = python_to_mongo(text)
    else:
        raise FilterError(f"Invalid query result: {text!r}. Query must evaluate to a dictionary.")
    if not isinstance(mongo, dict):
        raise FilterError(f"Invalid query result: {mongo!r}. Query must evaluate to a dictionary.",
                          source)
    _check_values(mongo, source)
    try:
        return CompiledFilter(source, mongo, mongo_to_ir(mongo, source))
    except RecursionError:
        raise FilterError(f"filter nested too deeply (at most {MAX_DEPTH} levels)",
                          source) from None


def is_mongo_document(text: str) -> bool:
    """``text`` is one ``{...}``: not an expression that merely starts with one.
    Text Python cannot parse goes to the Mongo parser too, which reports the JSON error."""
    text = text.strip()
    if not text.startswith("{"):
        return False
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return True
    return isinstance(tree.body, ast.Dict)


#: Brackets (or objects and lists) a filter may nest: deeper ones would exhaust Python's
#: recursion or SQLite's expression depth; no real filter comes close.
MAX_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BAD = re.compile(r"\\(u0000|U00000000|x00|0(?![0-9])|000|u[dD][89a-fA-F][0-9a-fA-F]{2}"
                          r"|U0000[dD][89a-fA-F][0-9a-fA-F]{2})|\x00")


def _column(text: str, index: int) -> tuple[int, int]:
    """(1-based column, 1-based line) of ``text[index]``."""
    from labtasker_tui.query.errors import split_lines

    before = split_lines(text[:index])
    return len(before[-1]) + 1, len(before)


def _check_text(text: str) -> None:
    """Reject what no parser should see: lone surrogates (bytes that were not UTF-8) and
    nesting beyond MAX_DEPTH (counted over brackets outside string literals)."""
    m = _SURROGATE.search(text)
    if m:
        col, line = _column(text, m.start())
        raise FilterError("the filter is not valid UTF-8 (a lone surrogate "
                          f"U+{ord(m.group()):04X}); pass text", text, col, line)
    if sum(text.count(ch) for ch in "([{") <= MAX_DEPTH:
        return  # cannot nest deeper (the common case, even for an `in` of 100,000 ids)
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                col, line = _column(text, i)
                raise FilterError(f"filter nested too deeply (more than {MAX_DEPTH} brackets)",
                                  text, col, line)
        elif ch in ")]}":
            depth -= 1
        i += 1


def _check_values(doc: Any, source: str) -> None:
    """Keys and strings hold no NUL (SQLite would compare them truncated) and no lone
    surrogate (not encodable); objects and lists nest at most MAX_DEPTH deep."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterError(f"filter nested too deeply (at most {MAX_DEPTH} levels)", source)
        if isinstance(value, re.Pattern):
            value = value.pattern
        if isinstance(value, str):
            bad = "\x00" in value or _SURROGATE.search(value)
            if bad:
                what = ("a NUL character" if "\x00" in value
                        else "a lone surrogate (not valid UTF-8)")
                m = _ESCAPED_BAD.search(source)
                idx = m.start() if m else next(
                    (i for i, ch in enumerate(source) if ch == "\x00"), None)
                col, line = _column(source, idx) if idx is not None else (None, 1)
                raise FilterError(f"{what} in a filter key or value: {value[:40]!r}", source, col,
                                  line)
        elif isinstance(value, dict):
            for k, v in value.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def filter_to_sql(compiled: CompiledFilter | None, dialect_name: str) -> ColumnElement[bool]:
    """The filter as a SQLAlchemy boolean expression over ``tasks`` (``true()`` for None)."""
    from sqlalchemy import true

    if compiled is None:
        return true()
    from labtasker_tui.query.sql import ir_to_sql

    try:
        return ir_to_sql(compiled.ir, dialect_name)
    except ValueError as exc:  # a construct the SQL layer cannot express
        raise FilterError(str(exc), compiled.text) from None


def parse_mongo_text(text: str) -> Any:
    """A Mongo document written as JSON (with extended-JSON ``$date``, ``$numberLong``...)
    or as a Python literal."""
    try:
        return json.loads(text, object_pairs_hook=_ext_json)
    except RecursionError:
        raise FilterError(f"filter nested too deeply (at most {MAX_DEPTH} levels)",
                          text) from None
    except json.JSONDecodeError as exc:
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise FilterError(f"Invalid JSON filter: {exc.msg}", text, exc.colno,
                              exc.lineno) from None
        return value
    except _ExtJSONError as exc:
        raise FilterError(str(exc), text) from None


class _ExtJSONError(ValueError):
    pass


def _ext_json(pairs: list[tuple[str, Any]]) -> Any:
    if len(pairs) == 1:
        key, value = pairs[0]
        if key == "$date":
            return _ext_date(value)
        if key in ("$numberLong", "$numberInt") and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise _ExtJSONError(f"invalid {key}: {value!r}") from None
        if key in ("$numberDouble", "$numberDecimal") and isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                raise _ExtJSONError(f"invalid {key}: {value!r}") from None
            return int(value) if key == "$numberDecimal" and re.fullmatch(r"-?\d+", value) \
                else f
        if key == "$regularExpression" and isinstance(value, dict):
            pattern, options = value.get("pattern"), value.get("options", "")
            if isinstance(pattern, str) and isinstance(options, str):
                from labtasker_tui.query.mongo import python_re_flags

                try:
                    return re.compile(pattern, python_re_flags(options))
                except re.error as exc:
                    raise _ExtJSONError(f"Regular expression is invalid: {exc}") from None
    return dict(pairs)


def _ext_date(value: Any) -> dt.datetime:
    if isinstance(value, dict) and set(value) == {"$numberLong"}:
        value = int(value["$numberLong"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if isinstance(value, str):
        try:
            d = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _ExtJSONError(f"invalid $date: {value!r} (use ISO 8601)") from None
        return d.replace(tzinfo=dt.UTC) if d.tzinfo is None else d.astimezone(dt.UTC)
    raise _ExtJSONError(f"invalid $date: {value!r}")


def _dumps(doc: dict[str, Any]) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return {"$date": o.isoformat()}
        if isinstance(o, re.Pattern):
            return {"$regex": o.pattern}
        return repr(o)

    try:
        return json.dumps(doc, ensure_ascii=False, default=default)
    except (TypeError, ValueError):
        return repr(doc)
