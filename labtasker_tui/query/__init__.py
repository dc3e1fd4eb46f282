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
from typing import Any

from labtasker_tui.query.errors import FilterError
from labtasker_tui.query.ir import IR

__all__ = ["CompiledFilter", "FilterError", "filter_to_sql", "parse_filter", "parse_mongo_text"]


@dataclass(frozen=True)
class CompiledFilter:
    """A validated filter: the text as given, its Mongo dict, and the IR."""

    text: str
    mongo: dict
    ir: IR


def parse_filter(text: str | dict | None) -> CompiledFilter | None:
    """Parse a filter in either syntax (spec §4.1); ``None`` when there is no filter.

    Text starting with ``{`` is a Mongo document: JSON first (``{"$date": "<iso>"}`` is a
    datetime), then a Python dict literal (``ast.literal_eval``, never ``eval``). Anything
    else is the Python-native syntax.
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
        if stripped.startswith("{"):
            mongo = parse_mongo_text(text)
        else:
            from labtasker_tui.query.python_syntax import python_to_mongo

            mongo = python_to_mongo(text)
    else:
        raise FilterError(f"Invalid query result: {text!r}. Query must evaluate to a dictionary.")
    if not isinstance(mongo, dict):
        raise FilterError(f"Invalid query result: {mongo!r}. Query must evaluate to a dictionary.",
                          source)
    return CompiledFilter(source, mongo, mongo_to_ir(mongo, source))


def filter_to_sql(compiled: CompiledFilter | None, dialect_name: str):
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


def _dumps(doc: dict) -> str:
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
