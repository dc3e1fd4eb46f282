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

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal_column, select

from ..schema import tasks
from .facet_summary import (
    COLUMN_FACETS,
    DATE_COLUMNS,
    JSON_ROOTS,
    MISSING,
    Bucket,
    FacetError,
    Facets,
    FacetValue,
    NumericStats,
    _column_groups,
    _decode,
    _literal,
    _summarise,
    condition_for,
    parse_facet_path,
    render_path,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from ..store.task_store import Selection, TaskStore

__all__ = [
    "COLUMN_FACETS",
    "DATE_COLUMNS",
    "JSON_ROOTS",
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

#: Ambiguous index rows (NULL, 0/1, "[..."/"{...") re-read through the index up to this share.
_RESOLVE_SHARE = 0.05
_RESOLVE_MIN = 20_000


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
        f"SELECT min({extract}) AS v, count(*) FROM tasks GROUP BY {extract}")).all()
    # (min(): SQLite 3.40 reads a grouped expression per group from the table, an aggregate
    # of it from the index: 10x faster with many distinct values)
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
