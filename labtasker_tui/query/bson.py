"""BSON facts the compiler and the SQLite functions share: the cross-type order and the
classification of filter literals. Plain Python (no SQLAlchemy), so the functions registered on
every SQLite connection can use it without loading the compiler."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# BSON canonical type order (spec §3.4): the rank of each type; a smaller rank sorts first.
RANK_MISSING = 0
RANK_EMPTY_ARRAY = 1  # sorting only: an empty array sorts before null
RANK_NULL = 5
RANK_NUMBER = 10
RANK_STRING = 15
RANK_OBJECT = 20
RANK_ARRAY = 25
RANK_BOOL = 40
RANK_DATE = 45

#: The rank of each JSON type name the dialects test with ``type_is``.
JSON_TYPE_RANKS = {"null": RANK_NULL, "number": RANK_NUMBER, "string": RANK_STRING,
                   "object": RANK_OBJECT, "array": RANK_ARRAY, "bool": RANK_BOOL}


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_nan(v: object) -> bool:
    return isinstance(v, float) and math.isnan(v)


def is_inf(v: object) -> bool:
    return isinstance(v, float) and math.isinf(v)


def has_date(v: object) -> bool:
    if isinstance(v, dt.datetime):
        return True
    if isinstance(v, list):
        return any(has_date(x) for x in v)
    if isinstance(v, dict):
        return any(has_date(x) for x in v.values())
    return False


def has_nonfinite(v: object) -> bool:
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(has_nonfinite(x) for x in v)
    if isinstance(v, dict):
        return any(has_nonfinite(x) for x in v.values())
    return False


def literal_rank(v: object) -> int:
    """The BSON rank of a filter literal (the IR's values)."""
    if v is None:
        return RANK_NULL
    if isinstance(v, bool):
        return RANK_BOOL
    if is_number(v):
        return RANK_NUMBER
    if isinstance(v, str):
        return RANK_STRING
    if isinstance(v, dict):
        return RANK_OBJECT
    if isinstance(v, list):
        return RANK_ARRAY
    if isinstance(v, dt.datetime):
        return RANK_DATE
    raise TypeError(v)


def date_marker(v: object) -> dict[str, str]:
    """``json.dumps`` default: a filter date as ``{"$date": iso}`` (stored JSON holds none)."""
    if isinstance(v, dt.datetime):
        return {"$date": v.isoformat()}
    raise TypeError(v)


def _json_rank(v: Any) -> int:
    if isinstance(v, dict) and len(v) == 1 and "$date" in v:
        return RANK_DATE  # a date of a filter literal
    if v is None:
        return RANK_NULL
    if isinstance(v, bool):
        return RANK_BOOL
    if isinstance(v, (int, float)):
        return RANK_NUMBER
    if isinstance(v, str):
        return RANK_STRING
    return RANK_OBJECT if isinstance(v, dict) else RANK_ARRAY


def bson_compare(a: Any, b: Any) -> int:
    """-1/0/1: two decoded JSON values in BSON order (objects with sorted keys)."""
    ra, rb = _json_rank(a), _json_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == RANK_NULL:
        return 0
    if ra == RANK_DATE:
        a, b = a["$date"], b["$date"]
    if ra == RANK_STRING:
        a, b = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    if ra == RANK_ARRAY:
        for x, y in zip(a, b, strict=False):
            c = bson_compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == RANK_OBJECT:
        ka, kb = sorted(a), sorted(b)
        for x, y in zip(ka, kb, strict=False):
            rx, ry = _json_rank(a[x]), _json_rank(b[y])
            c = (rx > ry) - (rx < ry) or bson_compare(x, y) or bson_compare(a[x], b[y])
            if c:
                return c
        return (len(ka) > len(kb)) - (len(ka) < len(kb))
    return int((a > b) - (a < b))


def bson_compare_json(a: str | None, b: str | None) -> int | None:
    """:func:`bson_compare` of two JSON texts; None (SQL NULL) when either is absent."""
    if a is None or b is None:
        return None
    try:
        return bson_compare(json.loads(a), json.loads(b))
    except (TypeError, ValueError):
        return None
