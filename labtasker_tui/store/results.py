"""Results grouped by swept parameters, aggregated by the database (:mod:`..results_model`
holds the definitions: groups, counts, statistics, seed-like paths).

>>> res = await compute_results(store, sel, by=["args.lr", "args.model"])
>>> res.groups[0].metrics["summary.acc"].mean

All in one read transaction:

1. (default ``by`` / metrics) the leaf paths of ``args`` / ``summary`` within the selection
   (:mod:`.result_paths`): per path, how many tasks have it, whether its values differ,
   whether one is a number.
2. One ``GROUP BY`` over the JSON text of the ``by`` paths (SQLite: ``col -> '$."k"'``;
   PostgreSQL: the ``jsonb`` value) with the status counts and, per metric, count / sum /
   sum of squares / min / max of the numbers and the NaN and missing counts (each metric
   read once per row: SQLite ``json_extract``, with ``json_type`` asked only for 0 and 1 to
   tell booleans apart (the document is passed along for it, 5% faster than a second
   extraction); float8 on PostgreSQL, with sums of squares too: its ``stddev_samp`` lost
   4 digits on values near 1e9 in the tests). The per-row values come from subqueries kept
   apart from the aggregate (SQLite ``LIMIT -1``: a co-routine; PostgreSQL ``OFFSET 0``), so
   each JSON value is extracted once per row, not once per aggregate that uses it.
3. Groups the text keeps apart but ``==`` does not (SQLite: ``1`` and ``1.0``; objects in
   another key order) are merged in Python (:class:`~..results_model.Moments` merge exactly).
4. Where the sum of squares lost too many digits to cancellation (values far from zero with
   a small spread), the standard deviation is recomputed with two exact passes over that
   metric's numbers (a second query; it does not run in the usual case).
5. The best task: one more query returns the tasks whose metric equals one of the groups'
   best values (an ``IN`` over those few numbers), matched to their group in Python.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ..fields import JSON_FIELDS
from ..lifecycle import STATUSES
from ..query.paths import json_path_literal, sqlstr
from ..results_model import (
    BEST_MODES,
    MISSING,
    NONFINITE,
    Group,
    MetricStats,
    Moments,
    Results,
    canonical,
    classify,
    is_number,
    is_seed_path,
    merge_statuses,
    value_key,
)
from ..schema import tasks
from .facet_summary import typed_expr
from .result_paths import (
    ResultsError,
    decode,
    json_type_args,
    key_expr,
    key_text,
    leaf_paths,
    parse_paths,
    sql_text,
)
from .task_store import Selection, TaskStore

__all__ = ["ResultsError", "compute_results", "group_filter", "leaf_paths", "parse_paths"]

#: the sum of squares is trusted while sum(x²) / m2 stays below this (else: two exact passes)
CANCELLATION_LIMIT = 1e5


# -- the aggregation ---------------------------------------------------------------------------


@dataclass
class _Part:
    """One SQL group's figures for one metric, before merging."""

    moments: Moments
    nonfinite: int
    missing: int


def _metric_columns(j: int, segs: Sequence[str], dialect: str) -> tuple[list[Any], list[Any]]:
    """(inner columns, aggregate columns) of metric ``j``."""
    t = typed_expr(segs, dialect)
    raw: list[Any]
    if dialect == "postgresql":
        raw = [sql_text(t).label(f"t{j}")]
        x = sql_text(f"x{j}")
        num = sql_text(f"CASE WHEN jsonb_typeof(t{j}) = 'number' THEN (t{j})::float8 END")
        nonfinite = sql_text(
            f"t{j} IN ({', '.join(sqlstr(json.dumps(s)) + '::jsonb' for s in NONFINITE)})")
        miss = sql_text(f"(t{j} IS NULL OR jsonb_typeof(t{j}) = 'null')")
        aggs = [func.count(x), func.sum(x), func.sum(sql_text(f"x{j} * x{j}")), func.min(x),
                func.max(x), func.count().filter(sql_text(f"f{j}")),
                func.count().filter(sql_text(f"m{j}"))]
    else:
        # json_extract gives numbers as numbers and strings as text, once per row; true and
        # false come as 1 and 0, told apart by json_type (asked only for 0 and 1, on the
        # document passed along as d_<column>)
        col, *keys = segs
        path = sqlstr(json_path_literal(keys))
        raw = [sql_text(f"json_extract(tasks.{col}, {path})").label(f"t{j}")]
        x = sql_text(f"x{j}")
        num = sql_text(f"CASE WHEN typeof(t{j}) IN ('integer', 'real') AND (t{j} NOT IN (0, 1) "
                  f"OR json_type(d_{col}, {path}) NOT IN ('true', 'false')) THEN t{j} END")
        nonfinite = sql_text(f"(typeof(t{j}) = 'text' AND t{j} IN "
                        f"({', '.join(sqlstr(s) for s in NONFINITE)}))")
        miss = sql_text(f"t{j} IS NULL")
        aggs = [func.count(x), func.total(x), func.total(sql_text(f"x{j} * x{j}")),
                func.min(x), func.max(x), func.count().filter(sql_text(f"f{j}")),
                func.count().filter(sql_text(f"m{j}"))]
    return raw, [num.label(f"x{j}"), nonfinite.label(f"f{j}"), miss.label(f"m{j}"), *aggs]


def _unlimited(stmt: Any, dialect: str) -> Any:
    """A subquery kept from being flattened into the aggregate (its expressions would then be
    evaluated once per aggregate that uses them): ``LIMIT -1`` on SQLite, ``OFFSET 0`` on
    PostgreSQL (1.9x the hand-written query without it, 1.1x with it)."""
    if dialect == "sqlite":
        return stmt.limit(bindparam("nolimit", -1, literal_execute=True))
    return stmt.offset(bindparam("nooffset", 0, literal_execute=True))


async def compute_results(store: TaskStore, sel: Selection | None = None, *,
                          by: Sequence[str] | None = None, over: Sequence[str] | None = None,
                          metrics: Sequence[str] | None = None, best: str = "max") -> Results:
    """The selection's tasks grouped by ``by`` (default: the varying args paths but the
    seed-like ones, or those in ``over``) with statistics of ``metrics`` (default: every
    numeric summary path)."""
    if best not in BEST_MODES:
        raise ResultsError(f"--best {best!r}: use max or min")
    by_paths = parse_paths(by, "--by") if by is not None else None
    over_paths = parse_paths(over, "--over") if over is not None else None
    metric_paths = parse_paths(metrics, "--metric", json_only=True) \
        if metrics is not None else None
    if by_paths is not None and over_paths:
        clash = sorted(set(by_paths) & set(over_paths))
        if clash:
            raise ResultsError(f"{clash[0]} is in both --by and --over")
    dialect = store.dialect
    with _gc_paused():
        return await _compute(store, sel, dialect, by_paths, over_paths, metric_paths, best)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while the groups are built: they are many small objects and nothing
    cyclic (with 100,000 groups a third of the time went to collections)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _compute(store: TaskStore, sel: Selection | None, dialect: str,
                   by_paths: list[str] | None, over_paths: list[str] | None,
                   metric_paths: list[str] | None, best: str) -> Results:
    async with store.read() as conn:
        if dialect == "postgresql":
            # the planner's guesses for jsonb_each are wild: JIT compiled the path discovery
            # for 0.7 s of a 1.5 s statement; these are short scans, never worth compiling
            await conn.exec_driver_sql("SET LOCAL jit = off")
        scope = store.scope(sel, scan=True)
        over_out: list[str] = list(over_paths or [])
        if by_paths is None:
            leaves = await leaf_paths(conn, store, scope, "args")
            total = await _count(conn, scope)
            varying = [lp.path for lp in leaves if lp.distinct > 1 or lp.present < total]
            if over_paths is None:
                over_out = [p for p in varying if is_seed_path(p)]
            by_paths = [p for p in varying if p not in over_out]
        if metric_paths is None:
            metric_paths = [lp.path for lp in await leaf_paths(conn, store, scope, "summary")
                            if lp.numeric > 0]
        groups = await _aggregate(conn, dialect, scope, by_paths, metric_paths)
        await _precise(conn, dialect, scope, by_paths, metric_paths, groups)
        out = _finish(groups, metric_paths, best)
        await _best_tasks(conn, dialect, scope, by_paths, metric_paths, out, best)
    return Results(by_paths, over_out, metric_paths, best,
                   sorted(out.values(), key=lambda g: g.key))


async def _count(conn: AsyncConnection, scope: ColumnElement[bool]) -> int:
    return int((await conn.execute(select(func.count()).select_from(tasks).where(scope)))
               .scalar_one())


@dataclass
class _Merged:
    values: tuple[Any, ...]
    count: int
    statuses: dict[str, int]
    parts: dict[str, _Part]
    exact: dict[str, bool]  # metric -> its moments need the precise pass


async def _aggregate(conn: AsyncConnection, dialect: str, scope: ColumnElement[bool],
                     by: list[str], metrics: list[str]) -> dict[tuple[Any, ...], _Merged]:
    is_json = [p.split(".")[0] in JSON_FIELDS for p in by]
    inner_cols: list[Any] = [key_expr(p, dialect).label(f"g{i}") for i, p in enumerate(by)]
    inner_cols.append(tasks.c.status.label("st"))
    mid_extra: list[Any] = []
    aggs: list[Any] = []
    if dialect == "sqlite":
        inner_cols += [tasks.c[c].label(f"d_{c}") for c in sorted({m.split(".")[0]
                                                                   for m in metrics})]
    for j, m in enumerate(metrics):
        raw, rest = _metric_columns(j, m.split("."), dialect)
        inner_cols += raw
        mid_extra += rest[:3]
        aggs += rest[3:]
    inner = _unlimited(select(*inner_cols).select_from(tasks).where(scope), dialect) \
        .subquery("r")
    g_cols = [sql_text(f"g{i}") for i in range(len(by))]
    mid = _unlimited(select(*g_cols, sql_text("st"), *mid_extra).select_from(inner),
                     dialect).subquery("m")
    key_out = [sql_text(f"(g{i})::text") if dialect == "postgresql" and is_json[i]
               else sql_text(f"g{i}") for i in range(len(by))]
    st = sql_text("st")
    stmt = select(*key_out, func.count(),
                  *(func.count().filter(st == s) for s in STATUSES), *aggs) \
        .select_from(mid)
    if by:
        stmt = stmt.group_by(*g_cols)
    merged: dict[tuple[Any, ...], _Merged] = {}
    nb, ns = len(by), len(STATUSES)
    for row in await conn.execute(stmt):
        count = int(row[nb])
        if count == 0:
            continue  # no task at all (an aggregate without GROUP BY still gives a row)
        values = tuple(decode(row[i], is_json[i]) for i in range(nb))
        statuses = {s: int(row[nb + 1 + k]) for k, s in enumerate(STATUSES)}
        parts: dict[str, _Part] = {}
        exact: dict[str, bool] = {}
        base = nb + 1 + ns
        for j, m in enumerate(metrics):
            a = row[base + 7 * j: base + 7 * (j + 1)]
            parts[m], exact[m] = _part(a)
        key = tuple(value_key(v) for v in values)
        old = merged.get(key)
        if old is None:
            merged[key] = _Merged(tuple(_shown(v) for v in values), count, statuses, parts,
                                  exact)
            continue
        old.count += count
        old.statuses = merge_statuses([old.statuses, statuses])
        for m in metrics:
            p, q = old.parts[m], parts[m]
            old.parts[m] = _Part(p.moments.merge(q.moments), p.nonfinite + q.nonfinite,
                                 p.missing + q.missing)
            old.exact[m] = old.exact[m] or exact[m]
    return merged


def _shown(v: Any) -> Any:
    """The value a group shows: numbers in their canonical spelling (1.0 -> 1)."""
    return canonical(v)


def _part(a: Sequence[Any]) -> tuple[_Part, bool]:
    """One metric's aggregates -> its moments, and whether they need the precise pass."""
    n = int(a[0] or 0)
    nonfinite, missing = int(a[5] or 0), int(a[6] or 0)
    if n == 0:
        return _Part(Moments(), nonfinite, missing), False
    lo, hi = canonical(a[3]), canonical(a[4])  # 90.0 from float8 shows as 90, as on SQLite
    s, q = float(a[1]), float(a[2])
    mean = s / n
    if lo == hi:
        return _Part(Moments(n, float(lo), 0.0, lo, hi), nonfinite, missing), False
    m2 = q - s * s / n
    needs = not (m2 > 0 and q / m2 < CANCELLATION_LIMIT) or not _finite(m2)
    return _Part(Moments(n, mean, m2, lo, hi), nonfinite, missing), needs


def _finite(x: float) -> bool:
    return math.isfinite(x)


async def _precise(conn: AsyncConnection, dialect: str, scope: ColumnElement[bool],
                   by: list[str], metrics: list[str],
                   groups: dict[tuple[Any, ...], _Merged]) -> None:
    """Two exact passes in Python for the (group, metric) pairs the sums could not serve."""
    todo = [m for m in metrics if any(g.exact.get(m) for g in groups.values())]
    if not todo:
        return
    is_json = [p.split(".")[0] in JSON_FIELDS for p in by]
    keys = [key_text(p, dialect, is_json[i]).label(f"g{i}") for i, p in enumerate(by)]
    for m in todo:
        t = sql_text(typed_expr(m.split("."), dialect))
        t_out = sql_text(f"({typed_expr(m.split('.'), dialect)})::text") \
            if dialect == "postgresql" else t
        values: dict[tuple[Any, ...], list[int | float]] = {}
        stmt = select(*keys, t_out).select_from(tasks).where(scope, _numeric(m, dialect))
        for row in await conn.execute(stmt):
            key = tuple(value_key(decode(row[i], is_json[i])) for i in range(len(by)))
            if groups.get(key) is not None and groups[key].exact.get(m):
                x = decode(row[len(by)], True)
                if is_number(x):
                    values.setdefault(key, []).append(x)
        for key, xs in values.items():
            g = groups[key]
            p = g.parts[m]
            g.parts[m] = _Part(Moments.of(xs), p.nonfinite, p.missing)


def _finish(groups: dict[tuple[Any, ...], _Merged], metrics: list[str], best: str
            ) -> dict[tuple[Any, ...], Group]:
    out: dict[tuple[Any, ...], Group] = {}
    for key, g in groups.items():
        stats: dict[str, MetricStats] = {}
        for m in metrics:
            p = g.parts[m]
            mo = p.moments
            stats[m] = MetricStats(
                m, n=mo.n, nonfinite=p.nonfinite, missing=p.missing,
                other=g.count - mo.n - p.nonfinite - p.missing,
                mean=mo.mean if mo.n else None, std=mo.std, min=mo.lo, max=mo.hi,
                best_value=(mo.hi if best == "max" else mo.lo) if mo.n else None)
        out[key] = Group(g.values, g.count, g.statuses, stats)
    return out


async def _best_tasks(conn: AsyncConnection, dialect: str, scope: ColumnElement[bool],
                      by: list[str], metrics: list[str], groups: dict[tuple[Any, ...], Group],
                      best: str) -> None:
    """Fill ``best``: the task whose metric equals its group's best value (smallest id on a
    tie), from one query that returns only the tasks whose value is one of the groups' best
    values (SQLite: json_extract IN; PostgreSQL: jsonb IN, numeric equality). A best value
    the database spells differently (PostgreSQL: a decimal longer than its float8) is then
    looked for among all that metric's numbers."""
    targets = {m: sorted({json.dumps(g.metrics[m].best_value) for g in groups.values()
                          if g.metrics[m].n}) for m in metrics}
    targets = {m: v for m, v in targets.items() if v}
    if not targets:
        return
    conds = {m: _equals_one_of(m, "[" + ", ".join(v) + "]", dialect)
             for m, v in targets.items()}
    await _scan_best(conn, dialect, scope, by, list(targets), conds, groups)
    unmatched = [m for m in targets if any(g.metrics[m].n and g.metrics[m].best is None
                                          for g in groups.values())]
    if unmatched:
        await _scan_best(conn, dialect, scope, by, unmatched,
                         {m: _numeric(m, dialect) for m in unmatched}, groups)


def _equals_one_of(path: str, values: str, dialect: str) -> ColumnElement[bool]:
    """The metric at ``path`` equals one of the numbers of the JSON array ``values``."""
    from sqlalchemy import cast

    col, *keys = path.split(".")
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        each = func.jsonb_array_elements(cast(literal(values, Text), JSONB)).table_valued(
            "value")
        return sql_text(typed_expr(path.split("."), dialect)).in_(select(each.c.value))
    x = func.json_extract(tasks.c[col], literal(json_path_literal(keys), Text))
    each = func.json_each(literal(values, Text)).table_valued("value")
    return x.in_(select(each.c.value))


def _numeric(path: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return func.jsonb_typeof(sql_text(typed_expr(path.split("."), dialect))) == "number"
    return sql_text(f"json_type({json_type_args(path)})").in_(["integer", "real"])


async def _scan_best(conn: AsyncConnection, dialect: str, scope: ColumnElement[bool],
                     by: list[str], metrics: list[str], conds: dict[str, ColumnElement[bool]],
                     groups: dict[tuple[Any, ...], Group]) -> None:
    is_json = [p.split(".")[0] in JSON_FIELDS for p in by]
    keys = [key_text(p, dialect, is_json[i]).label(f"g{i}") for i, p in enumerate(by)]
    outs = [(sql_text(f"({typed_expr(m.split('.'), dialect)})::text") if dialect == "postgresql"
             else sql_text(typed_expr(m.split("."), dialect))).label(f"t{j}")
            for j, m in enumerate(metrics)]
    stmt = select(*keys, tasks.c.task_id, *outs).select_from(tasks).where(
        scope, or_(*(conds[m] for m in metrics)))
    nb = len(by)
    for row in await conn.execute(stmt):
        g = groups.get(tuple(value_key(decode(row[i], is_json[i])) for i in range(nb)))
        if g is None:
            continue
        task_id = row[nb]
        for j, m in enumerate(metrics):
            raw = row[nb + 1 + j]
            if raw is None:
                continue
            x = decode(raw, True)
            s = g.metrics[m]
            if classify(x) == "number" and s.n and x == s.best_value and (
                    s.best is None or task_id < s.best):
                s.best = task_id


def group_filter(base: str, by: Sequence[str], values: Sequence[Any]) -> str:
    """``base`` AND the group's ``path == value`` conditions, in the filter syntax (Mongo
    filters stay Mongo): the filter the app's list shows when a group is opened."""
    from ..query.conditions import add_condition
    from .facet_summary import MISSING as FACET_MISSING
    from .facet_summary import condition_for

    text = base
    for path, v in zip(by, values, strict=True):
        cond = condition_for(path, FACET_MISSING if v is MISSING else v)
        text = add_condition(text, cond) if text.strip() else cond
    return text

