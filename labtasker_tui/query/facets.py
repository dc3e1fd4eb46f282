"""Facet counts: the values of one path with how many tasks have each, in one SQL scan.

>>> facets = await facet_counts(store, "args.model", sel)       # most common first
>>> condition_for("args.model", facets.values[0])                 # "args.model == 'vit'"

A path is a task column (``status``, ``priority``, ``task_name`` ...) or a JSON path
(``args.model``, ``metadata.tags``, ``summary.best.acc``). JSON values keep their type (``1``,
``"1"`` and ``true`` are three values; ``1`` and ``1.0`` are one, as in MongoDB). An array
counts each of its elements once per task (one level); tasks without the path are counted
apart as *missing*. Numbers also get min/max and a few range buckets.

SQL: SQLite groups ``col -> '$."k"'`` (one JSON parse per row, and the JSON text keeps the
type); when an expression index from ``labtasker-tui index add PATH`` covers the path and
nothing else narrows the selection, the GROUP BY reads only that index. PostgreSQL groups the
``jsonb`` value itself. No textual/click here.
"""

from __future__ import annotations

import bisect
import heapq
import json
import keyword
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal_column, select

from ..store.errors import UserError
from ..store.schema import tasks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from ..store.task_store import Selection, TaskStore

__all__ = [
    "MISSING",
    "Bucket",
    "FacetError",
    "FacetValue",
    "Facets",
    "NumericStats",
    "add_condition",
    "condition_for",
    "discover_paths",
    "facet_counts",
    "parse_facet_path",
    "python_form",
    "render_path",
]

JSON_ROOTS = ("args", "metadata", "summary", "cmd")
#: Task columns that can be faceted (dates cannot: every timestamp is distinct).
COLUMN_FACETS: dict[str, str] = {
    "status": "status", "task_name": "task_name", "priority": "priority",
    "retries": "retries", "max_retries": "max_retries", "worker_id": "worker_id",
    "heartbeat_timeout": "heartbeat_timeout", "task_timeout": "task_timeout",
    "task_id": "task_id",
}
DATE_COLUMNS = ("created_at", "start_time", "last_heartbeat", "last_modified")
#: Ambiguous index rows (NULL, 0/1, "[..."/"{...") re-read through the index up to this share.
_RESOLVE_SHARE = 0.05
_RESOLVE_MIN = 20_000
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
    from .sql import _sqlite_key_safe

    segs = tuple(path.strip().split("."))
    root = segs[0]
    if any(s == "" for s in segs):
        raise FacetError(f"invalid path {path!r}: empty key (write e.g. args.model)")
    if root in COLUMN_FACETS:
        if len(segs) > 1:
            raise FacetError(f"{root} is a plain field; it has no keys below it")
        return segs
    if root in DATE_COLUMNS:
        raise FacetError(f"cannot facet {root}: every timestamp is distinct; filter with "
                         f"{root} >= date('1 day ago') instead")
    if root not in JSON_ROOTS:
        raise FacetError(f"cannot facet {path!r}: a path starts with one of "
                         f"{', '.join([*COLUMN_FACETS, *JSON_ROOTS])}")
    bad = [s for s in segs[1:] if not _sqlite_key_safe(s)]
    if bad:
        raise FacetError(f"cannot facet {path!r}: key {bad[0]!r} must be printable ASCII "
                         "without quotes or backslashes")
    return segs


def render_path(path: str) -> str:
    """A path in the Python filter syntax: ``args.opt.lr``, ``args['learning-rate']``."""
    root, *keys = path.split(".")
    out = root
    for k in keys:
        out += f".{k}" if k.isidentifier() and not keyword.iskeyword(k) else f"[{k!r}]"
    return out


# -- SQL --------------------------------------------------------------------------------------


def _sqlstr(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _typed_expr(segs: tuple[str, ...], dialect: str) -> str:
    """SQL giving the JSON text of the value at ``segs`` (SQL NULL when missing)."""
    from .sql import json_path_literal

    col, *keys = segs
    if dialect == "postgresql":
        x = f"tasks.{col}"
        for k in keys:
            x = f"({x} -> {_sqlstr(k)})"
        return x
    return f"tasks.{col} -> {_sqlstr(json_path_literal(keys))}"


async def _single_queue(conn: AsyncConnection, queue: str) -> bool:
    """True when every task is in ``queue`` (two index probes): the queue test can go."""
    lo = (await conn.execute(select(func.min(tasks.c.queue)))).scalar()
    hi = (await conn.execute(select(func.max(tasks.c.queue)))).scalar()
    return lo is None or (lo == queue and hi == queue)


async def facet_counts(store: TaskStore, path: str, sel: Selection | None = None,
                       limit: int = 50) -> Facets:
    """Values of ``path`` with task counts within ``sel`` (queue-scoped), most common first."""
    segs = parse_facet_path(path)
    sel = sel if sel is not None and not sel.empty else None
    async with store.read() as conn:
        one_queue = await _single_queue(conn, store.queue)
        scope = store._scope(sel) if (sel is not None or not one_queue) else None
        if len(segs) == 1 and segs[0] in COLUMN_FACETS:
            col = tasks.c[COLUMN_FACETS[segs[0]]]
            stmt = select(col, func.count()).group_by(col)
            if scope is not None:
                stmt = stmt.where(scope)
            rows = [(v, int(n)) for v, n in await conn.execute(stmt)]
            return _summarise(path, _column_groups(rows), limit)
        used_index = False
        groups: list[tuple[Any, int]] | None = None
        if store.dialect == "sqlite" and scope is None and len(segs) > 1:
            groups = await _from_index(conn, segs)
            used_index = groups is not None
        if groups is None:
            expr = _typed_expr(segs, store.dialect)
            if store.dialect == "postgresql":
                value = literal_column(f"({expr})::text")
                stmt = select(value, func.count()).select_from(tasks).group_by(
                    literal_column(expr))
            else:
                value = literal_column(expr).label("v")
                stmt = select(value, func.count()).select_from(tasks).group_by(
                    literal_column("v"))
            if scope is not None:
                stmt = stmt.where(scope)
            result = await conn.stream(stmt.execution_options(yield_per=20_000))
            groups = []
            async for part in result.partitions(20_000):
                groups.extend((_decode(v), int(n)) for v, n in part)
    facets = _summarise(path, groups, limit)
    if used_index:
        facets = Facets(**{**facets.__dict__, "used_index": True})
    return facets


async def _from_index(conn: AsyncConnection, segs: tuple[str, ...]
                      ) -> list[tuple[Any, int]] | None:
    """SQLite: GROUP BY over the expression index of this path, if there is one."""
    from .indexes import index_name, list_indexes
    from .sql import json_path_literal

    path = ".".join(segs)
    try:
        name = index_name(path)
    except ValueError:
        return None
    if name not in {i["name"] for i in await list_indexes(conn)}:
        return None
    col, *keys = segs
    extract = f"json_extract(tasks.{col}, {_sqlstr(json_path_literal(keys))})"
    rows = (await conn.exec_driver_sql(
        f"SELECT {extract} AS v, count(*) FROM tasks GROUP BY v")).all()
    # json_extract drops the JSON type: NULL is null or missing, 1/0 may be true/false, and
    # "[..."/"{..." may be an array/object; re-read those rows (through the index) typed.
    total = sum(n for _, n in rows)
    ambiguous = [(v, n) for v, n in rows if v is None or (type(v) is int and v in (0, 1))
                 or (isinstance(v, str) and v[:1] in ("[", "{"))]
    if not ambiguous:
        return [(v, n) for v, n in rows]
    if sum(n for _, n in ambiguous) > max(_RESOLVE_MIN, total * _RESOLVE_SHARE):
        return None  # cheaper to scan
    typed = _typed_expr(segs, "sqlite")
    out = [(v, n) for v, n in rows if (v, n) not in ambiguous]
    keys_in = [v for v, _ in ambiguous if v is not None]
    conds = []
    params: dict[str, Any] = {}
    if any(v is None for v, _ in ambiguous):
        conds.append(f"{extract} IS NULL")
    for i, v in enumerate(keys_in):
        params[f"k{i}"] = v
    if keys_in:
        conds.append(f"{extract} IN ({', '.join(f':k{i}' for i in range(len(keys_in)))})")
    from sqlalchemy import text

    for sub in conds:
        res = await conn.execute(text(f"SELECT {typed} AS v, count(*) FROM tasks WHERE {sub} "
                                      "GROUP BY v"), params if "IN" in sub else {})
        out.extend((_decode(v), int(n)) for v, n in res)
    return out


def _decode(v: Any) -> Any:
    """JSON text from the database -> a Python value (MISSING for SQL NULL)."""
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


def _column_groups(rows: Iterable[tuple[Any, int]]) -> list[tuple[Any, int]]:
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


def _summarise(path: str, groups: Iterable[tuple[Any, int]], limit: int) -> Facets:
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
    top = heapq.nlargest(limit, counts.items(), key=operator.itemgetter(1))
    top.sort(key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))
    values = [FacetValue(first[k], k[0], n, k in in_array) for k, n in top]
    other = sum(counts.values()) - sum(n for _, n in top)
    nums = sorted((k[1], n) for k, n in counts.items() if k[0] == "number")
    numeric = _numeric(nums) if nums else None
    return Facets(path, total, values, len(counts), other, missing, arrays, numeric)


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
    if len(nums) > _BUCKETS and finite and lo != hi:
        edges = _edges(lo, hi, all(isinstance(v, int) for v, _ in nums))
        for i in range(len(edges) - 1):
            a, b = edges[i], edges[i + 1]
            last = i == len(edges) - 2
            left = bisect.bisect_left(values, float(a))
            right = (bisect.bisect_right(values, float(b)) if last
                     else bisect.bisect_left(values, float(b)))
            buckets.append(Bucket(a, b, cum[right] - cum[left], closed=last))
    return NumericStats(lo, hi, stats_count, len(nums), buckets)


def _edges(lo: float, hi: float, ints: bool) -> list[Any]:
    if lo > 0 and hi / lo >= 100:  # log scale: decades, merged to at most _BUCKETS
        d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        if 10.0**d1 < hi:
            d1 += 1
        step = max(1, math.ceil((d1 - d0) / _BUCKETS))
        exps = list(range(d0, d1 + 1, step))
        if exps[-1] < d1:
            exps.append(exps[-1] + step)
        return [_clean(10.0**e) if e < 0 or not ints else 10**e for e in exps]
    step = _nice((hi - lo) / _BUCKETS)
    if ints:
        step = max(1, round(step))
    start = math.floor(lo / step) * step
    edges: list[Any] = []
    x = start
    while True:
        edges.append(int(x) if ints else _clean(x))
        if x >= hi:
            break
        x += step
    if len(edges) == 1:
        edges.append(int(x + step) if ints else _clean(x + step))
    return edges


# -- conditions -------------------------------------------------------------------------------


def _literal(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v!r} cannot be written in a filter")
    if isinstance(v, list):
        return "[" + ", ".join(_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def condition_for(path: str, value: Any, *, array: bool = False) -> str:
    """The Python-syntax condition selecting the tasks a facet entry counted.

    ``value`` is a :class:`FacetValue`, a :class:`Bucket`, :data:`MISSING` or a plain value;
    ``array`` (or ``FacetValue.in_array``) words equality as membership.
    """
    segs = parse_facet_path(path)
    p = render_path(path)
    is_json = segs[0] in JSON_ROOTS
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


def add_condition(filter_text: str, condition: str) -> str:
    """``filter AND condition`` in the filter's own syntax (Mongo stays Mongo)."""
    text = filter_text.strip()
    if not text:
        return condition
    from . import _dumps, parse_mongo_text
    from .python_syntax import python_to_mongo

    if text.startswith("{"):
        doc = parse_mongo_text(text)
        return _dumps({"$and": [doc, python_to_mongo(condition)]})
    try:
        top = python_to_mongo(text)
        simple = "$or" not in top
    except Exception:  # noqa: BLE001 - the caller validates; parenthesise to be safe
        simple = False
    return f"{text} and {condition}" if simple and "\n" not in text else \
        f"({text}) and {condition}"


# -- the Python form of a Mongo filter --------------------------------------------------------

_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def python_form(mongo: dict) -> str | None:
    """A Python-syntax filter equivalent to ``mongo`` when a simple one exists, else None.

    The candidate is checked: it must compile to the same IR as ``mongo``.
    """
    from .mongo import mongo_to_ir
    from .python_syntax import python_to_mongo

    try:
        text = _py(mongo, top=True)
        if text is None:
            return None
        return text if mongo_to_ir(python_to_mongo(text)) == mongo_to_ir(mongo) else None
    except Exception:  # noqa: BLE001 - no Python form
        return None


def _py(doc: Any, top: bool = False) -> str | None:
    if not isinstance(doc, dict) or not doc:
        return None
    parts: list[str] = []
    for key, cond in doc.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                return None
            subs = [_py(c) for c in cond]
            if any(s is None for s in subs):
                return None
            joiner = " and " if key == "$and" else " or "
            text = joiner.join(subs)  # type: ignore[arg-type]
            parts.append(text if key == "$and" or (top and len(doc) == 1) else f"({text})")
            continue
        if key.startswith("$"):
            return None
        p = render_path(key)
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            for op, v in cond.items():
                if op in _OPS:
                    parts.append(f"{p} {_OPS[op]} {_literal(v)}")
                elif op == "$eq":
                    parts.append(f"{p} == {_literal(v)}")
                elif op == "$in" and isinstance(v, list):
                    parts.append(f"{p} in {_literal(v)}")
                elif op == "$exists" and isinstance(v, bool):
                    parts.append(f"exists({p})" if v else f"exists({p}, False)")
                elif op == "$regex" and isinstance(v, str) and set(cond) == {"$regex"}:
                    parts.append(f"regex({p}, {v!r})")
                else:
                    return None
        else:
            parts.append(f"{p} == {_literal(cond)}")
    return " and ".join(parts)


# -- discovering paths ------------------------------------------------------------------------


async def discover_paths(store: TaskStore, sample: int = 2000) -> list[str]:
    """Paths present in a sample of recent tasks: facetable columns, then JSON paths A-Z."""
    cols = [tasks.c.args, tasks.c.metadata, tasks.c.summary, tasks.c.cmd]
    stmt = select(*cols).where(tasks.c.queue == store.queue).limit(sample)
    if store.dialect == "sqlite":
        stmt = stmt.order_by(literal_column("tasks.rowid").desc())
    found: set[str] = set()
    async with store.read() as conn:
        for row in await conn.execute(stmt):
            for name, doc in zip(("args", "metadata", "summary"), row[:3], strict=True):
                _walk(name, doc, found, 0)
            if row[3] not in (None, "", []):
                found.add("cmd")
    columns = ["status", "task_name", "priority", "retries", "worker_id"]
    return columns + sorted(found)


def _walk(prefix: str, doc: Any, found: set[str], depth: int) -> None:
    if isinstance(doc, dict) and doc and depth < 8:
        for k, v in doc.items():
            if not isinstance(k, str) or "." in k or not k:
                continue
            _walk(f"{prefix}.{k}", v, found, depth + 1)
    elif depth > 0:
        found.add(prefix)
