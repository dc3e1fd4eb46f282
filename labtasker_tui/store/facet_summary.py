"""The database-free half of facets: paths, result types, summarising groups, conditions.

Imported by :mod:`.facets` (the SQL) and by :mod:`.sqlite_direct` (the sqlite3 fast path of
the ``facets`` command), so it must not import SQLAlchemy (nor textual/click).

>>> summarise("args.x", [(1, 2), (1.0, 1), ("a", 1), (MISSING, 1)], 10).values[0].count
3
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..fields import BY_NAME, FACET_FIELDS, JSON_FIELDS, TIME_FIELDS
from ..query.conditions import literal as _literal
from ..query.conditions import render_path
from ..query.paths import json_path_literal, sqlite_key_safe, sqlstr

#: Task columns that can be faceted, by field name (the field table's FACET_FIELDS; dates
#: cannot: every timestamp is distinct).
COLUMN_FACETS: dict[str, str] = {name: BY_NAME[name].column for name in FACET_FIELDS}
_BUCKETS = 5


class FacetError(UserError):
    """A path that cannot be faceted (exit 2 on the CLI)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The "path is absent" value (``exists(path, False)``).
MISSING: Any = _Missing()


@dataclass(frozen=True)
class FacetValue:
    """One value and the number of tasks that have it (as the value or an array element)."""

    value: Any
    kind: str  # string number bool null array object missing
    count: int
    in_array: bool = False  # seen as an element of an array

    @property
    def label(self) -> str:
        if self.kind == "missing":
            return "(missing)"
        if self.kind == "string":
            return self.value if self.value else '""'
        return json.dumps(self.value, ensure_ascii=False)

    def as_dict(self) -> dict[str, Any]:
        return {"value": None if self.kind == "missing" else self.value, "kind": self.kind,
                "count": self.count, "in_array": self.in_array}


@dataclass(frozen=True)
class Bucket:
    """Numbers in ``[lo, hi)`` (``[lo, hi]`` when ``closed``)."""

    lo: int | float
    hi: int | float
    count: int
    closed: bool = False

    @property
    def label(self) -> str:
        return f"[{_num(self.lo)}, {_num(self.hi)}{']' if self.closed else ')'}"

    def as_dict(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "count": self.count, "closed": self.closed}


@dataclass(frozen=True)
class NumericStats:
    min: int | float
    max: int | float
    count: int  # tasks (or array elements) with a number here
    distinct: int
    buckets: list[Bucket] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "count": self.count,
                "distinct": self.distinct, "buckets": [b.as_dict() for b in self.buckets]}


@dataclass(frozen=True)
class Facets:
    path: str
    total: int  # tasks in the selection
    values: list[FacetValue]  # the top ``limit``, most common first
    distinct: int  # distinct values (missing excluded)
    other: int  # occurrences of the values beyond ``limit``
    missing: int
    arrays: int  # tasks whose value is an array
    numeric: NumericStats | None = None
    used_index: bool = False

    @property
    def missing_value(self) -> FacetValue:
        return FacetValue(MISSING, "missing", self.missing)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "total": self.total, "distinct": self.distinct,
                "values": [v.as_dict() for v in self.values], "other": self.other,
                "missing": self.missing, "arrays": self.arrays,
                "numeric": self.numeric.as_dict() if self.numeric else None}


# -- paths ------------------------------------------------------------------------------------


def parse_facet_path(path: str) -> tuple[str, ...]:
    """``args.opt.lr`` -> ``("args", "opt", "lr")``; a column alone -> ``("status",)``."""
    segs = tuple(path.strip().split("."))
    root = segs[0]
    if any(s == "" for s in segs):
        raise FacetError(f"invalid path {path!r}: empty key (write e.g. args.model)")
    if root in COLUMN_FACETS:
        if len(segs) > 1:
            raise FacetError(f"{root} is a plain field; it has no keys below it")
        return segs
    if root in TIME_FIELDS:
        raise FacetError(f"cannot facet {root}: every timestamp is distinct; filter with "
                         f"{root} >= date('1 day ago') instead")
    if root not in JSON_FIELDS:
        raise FacetError(f"cannot facet {path!r}: a path starts with one of "
                         f"{', '.join([*JSON_FIELDS, *FACET_FIELDS])}")
    bad = [s for s in segs[1:] if not sqlite_key_safe(s)]
    if bad:
        raise FacetError(f"cannot facet {path!r}: key {bad[0]!r} must be printable ASCII "
                         "without quotes or backslashes")
    return segs


def sqlite_typed_expr(segs: Sequence[str]) -> str:
    """SQLite: the JSON text of the value at ``segs`` (type kept; SQL NULL when missing)."""
    col, *keys = segs
    return f"tasks.{col} -> {sqlstr(json_path_literal(keys))}"


def typed_expr(segs: Sequence[str], dialect: str) -> str:
    """The value at ``segs``, its JSON type kept: JSON text on SQLite, jsonb on PostgreSQL
    (SQL NULL when missing). Facets and results group by it."""
    if dialect != "postgresql":
        return sqlite_typed_expr(segs)
    col, *keys = segs
    x = f"tasks.{col}"
    for k in keys:
        x = f"({x} -> {sqlstr(k)})"
    return x


def decode(v: Any) -> Any:
    """JSON text from the database -> a Python value (MISSING for SQL NULL): what the
    groups given to :func:`summarise` hold."""
    if v is None:
        return MISSING
    if not isinstance(v, str):  # already decoded by a driver
        return v
    c = v[:1]
    if c == '"':
        return json.loads(v)
    if c.isdigit() or c == "-":
        if "." in v or "e" in v or "E" in v:
            return float(v)
        return int(v)
    return json.loads(v)


def column_groups(rows: Iterable[tuple[Any, int]]) -> list[tuple[Any, int]]:
    return [(None if v is None else v, n) for v, n in rows]


# -- summarising ------------------------------------------------------------------------------


def _kind(v: Any) -> str:
    if v is MISSING:
        return "missing"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _key(v: Any) -> tuple[str, Any]:
    k = _kind(v)
    if k in ("array", "object"):
        return k, json.dumps(v, sort_keys=True, ensure_ascii=False)
    if k == "number" and isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return k, int(v)
    return k, v


@dataclass(frozen=True)
class NumberTotals:
    """Top-level numbers aggregated by the database (no arrays at the path)."""

    top: list[tuple[int | float, int]]  # canonical value (see _key), count: the first
    #                                     ``limit`` by (count desc, value asc)
    distinct: int
    occurrences: int
    stats: NumericStats | None


def canonical_number(v: int | float) -> int | float:
    """1.0 -> 1 (numbers are one value whatever their spelling, as in :func:`_key`)."""
    if type(v) is float and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def _rank(kv: tuple[tuple[str, Any], int]) -> tuple[int, str, Any]:
    """Most common first; ties by kind, then value (numbers numerically): deterministic."""
    (kind, value), n = kv
    return -n, kind, value if kind != "null" else 0


def summarise(path: str, groups: Iterable[tuple[Any, int]], limit: int,
              numbers: NumberTotals | None = None) -> Facets:
    """The facets of ``path`` from ``(value, tasks)`` groups (values :func:`decode`-d), the
    top ``limit`` values kept; ``numbers``: the numbers, already aggregated (then
    ``groups`` holds no number and no array)."""
    counts: dict[tuple[str, Any], int] = {}
    first: dict[tuple[str, Any], Any] = {}
    in_array: set[tuple[str, Any]] = set()
    total = missing = arrays = 0

    def add(v: Any, n: int) -> tuple[str, Any]:
        k = _key(v)
        counts[k] = counts.get(k, 0) + n
        first.setdefault(k, k[1] if k[0] == "number" else v)
        return k

    for v, n in groups:
        total += n
        t = type(v)
        # fast paths for scalars (most groups); everything else through _key
        if t is str:
            k: tuple[str, Any] = ("string", v)
        elif t is int:
            k = ("number", v)
        elif t is float:
            k = ("number", int(v) if v.is_integer() and abs(v) < 2**53 else v)
        elif v is MISSING:
            missing += n
            continue
        elif t is list:
            arrays += n
            if not v:
                add(v, n)
                continue
            seen: set[tuple[str, Any]] = set()
            for el in v:
                ke = _key(el)
                if ke not in seen:
                    seen.add(ke)
                    in_array.add(add(el, n))
            continue
        else:
            add(v, n)
            continue
        c = counts.get(k)
        if c is None:
            counts[k] = n
            first[k] = k[1] if t is float else v
        else:
            counts[k] = c + n
    items: Iterable[tuple[tuple[str, Any], int]] = counts.items()
    occurrences = sum(counts.values())
    distinct = len(counts)
    if numbers is not None:
        for v, _ in numbers.top:
            first[("number", v)] = v
        items = [*items, *((("number", v), n) for v, n in numbers.top)]
        occurrences += numbers.occurrences
        distinct += numbers.distinct
        total += numbers.occurrences
    top = heapq.nsmallest(limit, items, key=_rank)
    top.sort(key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))
    values = [FacetValue(first[k], k[0], n, k in in_array) for k, n in top]
    other = occurrences - sum(n for _, n in top)
    if numbers is not None:
        numeric = numbers.stats
    else:
        nums = sorted((k[1], n) for k, n in counts.items() if k[0] == "number")
        numeric = _numeric(nums) if nums else None
    return Facets(path, total, values, distinct, other, missing, arrays, numeric)


def _num(x: float) -> str:
    return repr(x) if isinstance(x, float) else str(x)


def _clean(x: float) -> float:
    return float(f"{x:.12g}")


def _nice(step: float) -> float:
    exp = math.floor(math.log10(step))
    frac = step / 10**exp
    nice = next(m for m in (1, 2, 2.5, 5, 10) if frac <= m + 1e-9)
    return _clean(nice * 10**exp)


def _numeric(nums: list[tuple[int | float, int]]) -> NumericStats:
    values = [float(v) for v, _ in nums]
    cum = [0]
    for _, n in nums:
        cum.append(cum[-1] + n)
    lo, hi = nums[0][0], nums[-1][0]
    stats_count = cum[-1]
    buckets: list[Bucket] = []
    finite = all(math.isfinite(v) for v in values)
    if wants_buckets(len(nums), lo, hi, finite):
        edges = bucket_edges(lo, hi, all(isinstance(v, int) for v, _ in nums))
        for i in range(len(edges) - 1):
            a, b = edges[i], edges[i + 1]
            last = i == len(edges) - 2
            left = bisect.bisect_left(values, float(a))
            right = (bisect.bisect_right(values, float(b)) if last
                     else bisect.bisect_left(values, float(b)))
            buckets.append(Bucket(a, b, cum[right] - cum[left], closed=last))
    return NumericStats(lo, hi, stats_count, len(nums), buckets)


def wants_buckets(distinct: int, lo: float, hi: float, finite: bool) -> bool:
    """Range buckets are shown for more than a few distinct finite numbers."""
    return distinct > _BUCKETS and finite and lo != hi


def bucket_edges(lo: float, hi: float, ints: bool) -> list[Any]:
    if lo > 0 and hi / lo >= 100:  # log scale: decades, merged to at most _BUCKETS
        d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        if 10.0**d1 < hi:
            d1 += 1
        step = max(1, math.ceil((d1 - d0) / _BUCKETS))
        exps = list(range(d0, d1 + 1, step))
        if exps[-1] < d1:
            exps.append(exps[-1] + step)
        return [_clean(10.0**e) if e < 0 or not ints else 10**e for e in exps]
    width: float = _nice((hi - lo) / _BUCKETS)
    if ints:
        width = max(1, round(width))
    start = math.floor(lo / width) * width
    edges: list[Any] = []
    x = start
    while True:
        edges.append(int(x) if ints else _clean(x))
        if x >= hi:
            break
        x += width
    if len(edges) == 1:
        edges.append(int(x + width) if ints else _clean(x + width))
    return edges


# -- conditions -------------------------------------------------------------------------------


def condition_for(path: str, value: Any, *, array: bool = False) -> str:
    """The Python-syntax condition selecting the tasks a facet entry counted.

    ``value`` is a :class:`FacetValue`, a :class:`Bucket`, :data:`MISSING` or a plain value;
    ``array`` (or ``FacetValue.in_array``) words equality as membership.
    """
    segs = parse_facet_path(path)
    p = render_path(path)
    is_json = segs[0] in JSON_FIELDS
    if isinstance(value, Bucket):
        upper = "<=" if value.closed else "<"
        return f"{p} >= {_literal(value.lo)} and {p} {upper} {_literal(value.hi)}"
    if isinstance(value, FacetValue):
        array = array or value.in_array
        value = value.value
    if value is MISSING:
        return f"exists({p}, False)"
    if value is None:
        return f"{p} == None and exists({p})" if is_json else f"{p} == None"
    if array and is_json:
        return f"{_literal(value)} in list({p})"
    return f"{p} == {_literal(value)}"




# The names sqlite_direct imports until it takes the public ones.
