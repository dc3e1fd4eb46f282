"""The user-settable fields checked without pydantic, for the paths that must start fast
(``submit`` of one task through the direct SQLite path loads no pydantic).

:func:`check_fields` accepts only values that ``models.TaskFields`` surely accepts, and
returns them normalised exactly as it does (``heartbeat_timeout`` 5 -> 5.0, ``task_timeout``
600.0 -> 600, documents through the one validator :func:`documents.validate_document`). For
anything else (a wrong type, a bool where a number goes, an out-of-range value, a bad name)
it returns None and the caller asks ``models.validate_fields``, whose messages users see:
errors are rare, so they pay the pydantic import, and every message stays the same.
tests/core/test_plain_checks.py compares the two on the same values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .documents import INT64_MAX, INT64_MIN, check_json_value, validate_document
from .fields import BY_NAME
from .lifecycle import STATUSES

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,100}")
_MISS = object()  # not surely valid: ask pydantic


def _int(lo: int) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        return v if type(v) is int and lo <= v <= INT64_MAX else _MISS
    return check


def _task_name(v: Any) -> Any:
    return v if v is None or (type(v) is str and _NAME.fullmatch(v)) else _MISS


def _status(v: Any) -> Any:
    return v if v is None or (type(v) is str and v in STATUSES) else _MISS


def _seconds(v: Any) -> Any:
    if v is None:
        return None
    if type(v) in (int, float) and math.isfinite(v) and v > 0:
        return float(v)
    return _MISS


def _whole_seconds(v: Any) -> Any:
    if v is None:
        return None
    if type(v) is float and v.is_integer():
        v = int(v)
    return v if type(v) is int and 0 < v <= INT64_MAX else _MISS


def _cmd(v: Any) -> Any:
    if type(v) is str or (type(v) is list and all(type(x) is str for x in v)):
        return check_json_value(v, "cmd")
    return _MISS


#: field name -> its check (the constraints of ``models.USER_TYPES``, then the kinds)
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "status": _status,
    "task_name": _task_name,
    "heartbeat_timeout": _seconds,
    "task_timeout": _whole_seconds,
    "max_retries": _int(0),
    "retries": _int(0),
    "priority": _int(INT64_MIN),
    "cmd": _cmd,
}


def check_fields(values: dict[str, Any]) -> dict[str, Any] | None:
    """``values`` (updatable fields) normalised as ``models.validate_fields`` returns them,
    or None when that validator must decide (it words the errors)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        field = BY_NAME.get(name)
        if field is None or not field.updatable:
            return None
        if field.kind == "document":
            try:
                out[name] = validate_document(value, name)
            except (ValueError, RecursionError):  # UserError is a ValueError too
                return None
            continue
        check = _CHECKS.get(name)
        if check is None:
            return None
        try:
            result = check(value)
        except (ValueError, RecursionError):
            return None
        if result is _MISS:
            return None
        out[name] = result
    return out
