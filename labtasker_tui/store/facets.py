"""Facet counts: the values of one path with how many tasks have each, in one SQL scan.

>>> facets = await facet_counts(store, "args.model", sel)       # most common first
>>> condition_for("args.model", facets.values[0])                 # "args.model == 'vit'"

A path is a task column (``status``, ``priority``, ``task_name`` ...) or a JSON path
(``args.model``, ``metadata.tags``, ``summary.best.acc``). JSON values keep their type (``1``,
``"1"`` and ``true`` are three values; ``1`` and ``1.0`` are one, as in MongoDB). An array
counts each of its elements once per task (one level); tasks without the path are counted
apart as *missing*. Numbers also get min/max and a few range buckets (:mod:`.facet_summary`).

SQL: SQLite groups ``col -> '$."k"'`` (one JSON parse per row, and the JSON text keeps the
type); when an expression index from ``labtasker-tui index add PATH`` covers the path and
nothing else narrows the selection, :func:`.sqlite_direct.index_facets` reads only that index.
PostgreSQL groups the ``jsonb`` value itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..fields import BY_NAME, JSON_FIELDS, NESTED_FIELDS
from ..schema import tasks
from .facet_summary import (
    COLUMN_FACETS,
    Facets,
    column_groups,
    decode,
    parse_facet_path,
    summarise,
    typed_expr,
)
from .sqlite_direct import DriverConnection, index_facets
from .task_store import Selection, TaskStore

__all__ = ["SUGGESTED_COLUMNS", "discover_paths", "facet_counts"]


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
        scope: ColumnElement[bool] | None = (
            store.scope(sel) if (sel is not None or not one_queue) else None)
        if len(segs) == 1 and segs[0] in COLUMN_FACETS:
            col = tasks.c[COLUMN_FACETS[segs[0]]]
            stmt = select(col, func.count()).group_by(col)
            if scope is not None:
                stmt = stmt.where(scope)
            rows = [(v, int(n)) for v, n in await conn.execute(stmt)]
            return summarise(path, column_groups(rows), limit)
        if store.dialect == "sqlite" and scope is None and len(segs) > 1:
            found = await conn.run_sync(
                lambda sync: index_facets(DriverConnection(sync), path, segs, limit))
            if found is not None:
                return found
        expr = typed_expr(segs, store.dialect)
        value: ColumnElement[Any]
        group: ColumnElement[Any]
        if store.dialect == "postgresql":
            value = literal_column(f"({expr})::text")
            group = literal_column(expr)
        else:
            value = literal_column(expr).label("v")
            group = literal_column("v")
        query = select(value, func.count()).select_from(tasks).group_by(group)
        if scope is not None:
            query = query.where(scope)
        result = await conn.stream(query.execution_options(yield_per=20_000))
        groups: list[tuple[Any, int]] = []
        async for part in result.partitions(20_000):
            groups.extend((decode(v), int(n)) for v, n in part)
    return summarise(path, groups, limit)


#: The columns the filter screen suggests before the JSON paths: a choice among the
#: FACET_FIELDS (the others can be typed), in the order the screen shows them.
SUGGESTED_COLUMNS: tuple[str, ...] = ("status", "task_name", "priority", "retries", "worker_id")
#: JSON fields that are not documents (``cmd``): suggested as a whole when a task sets one.
_WHOLE_JSON: tuple[str, ...] = tuple(f for f in JSON_FIELDS if f not in NESTED_FIELDS)


async def discover_paths(store: TaskStore, sample: int = 2000) -> list[str]:
    """Paths present in a sample of recent tasks: the suggested columns, then JSON paths A-Z
    (the documents' leaf paths, and each other JSON field that some task sets)."""
    stmt = (select(*(tasks.c[BY_NAME[name].column] for name in (*NESTED_FIELDS, *_WHOLE_JSON)))
            .where(tasks.c.queue == store.queue).limit(sample))
    if store.dialect == "sqlite":
        stmt = stmt.order_by(literal_column("tasks.rowid").desc())
    found: set[str] = set()
    async with store.read() as conn:
        for row in await conn.execute(stmt):
            _walk_row(row, found)
    return [*SUGGESTED_COLUMNS, *sorted(found)]


def _walk_row(row: Sequence[Any], found: set[str]) -> None:
    n = len(NESTED_FIELDS)
    for name, doc in zip(NESTED_FIELDS, row[:n], strict=True):
        _walk(name, doc, found, 0)
    for name, value in zip(_WHOLE_JSON, row[n:], strict=True):
        if value not in (None, "", []):
            found.add(name)


def _walk(prefix: str, doc: Any, found: set[str], depth: int) -> None:
    if isinstance(doc, dict) and doc and depth < 8:
        for k, v in doc.items():
            if not isinstance(k, str) or "." in k or not k:
                continue
            _walk(f"{prefix}.{k}", v, found, depth + 1)
    elif depth > 0:
        found.add(prefix)
