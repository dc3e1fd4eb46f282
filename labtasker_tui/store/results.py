"""Results grouped by swept parameters, aggregated by the database (:mod:`..results_model`
holds the definitions: groups, counts, statistics, seed-like paths).

>>> res = await compute_results(store, sel, by=["args.lr", "args.model"])
>>> res.groups[0].metrics["summary.acc"].mean

All in one read transaction:

1. (default ``by`` / metrics) the leaf paths of ``args`` / ``summary`` within the selection:
   SQLite walks each document with ``json_tree``, PostgreSQL with ``jsonb_each`` a level at a
   time; per path, how many tasks have it, whether its values differ, whether one is a number.
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
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import UserError
from ..fields import JSON_FIELDS
from ..lifecycle import STATUSES
from ..query.paths import json_path_literal, sqlite_key_safe, sqlstr
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
from .facet_summary import COLUMN_FACETS, FacetError, parse_facet_path
from .task_store import Selection, TaskStore

__all__ = ["ResultsError", "compute_results", "group_filter", "leaf_paths", "parse_paths"]

#: how deep the default paths are looked for (as the filter screen's path discovery)
_MAX_DEPTH = 8
#: the sum of squares is trusted while sum(x²) / m2 stays below this (else: two exact passes)
CANCELLATION_LIMIT = 1e5


class ResultsError(UserError):
    """A bad --by / --over / --metric path or --best mode (exit 2)."""


# -- paths ------------------------------------------------------------------------------------


def parse_paths(paths: Sequence[str], what: str, *, json_only: bool = False) -> list[str]:
    """Normalised paths (``args.lr``), each checked: a JSON path or a groupable column."""
    out: list[str] = []
    for raw in paths:
        p = raw.strip()
        if not p:
            continue
        try:
            segs = parse_facet_path(p)
        except FacetError as exc:
            raise ResultsError(f"{what}: {exc}") from None
        if json_only and segs[0] not in JSON_FIELDS:
            raise ResultsError(f"{what}: {p!r} is not a JSON path (a metric is e.g. "
                               "summary.acc)")
        if segs[0] in JSON_FIELDS and len(segs) == 1 and segs[0] != "cmd":
            raise ResultsError(f"{what}: {p!r} is a whole document; name a key below it, "
                               f"e.g. {segs[0]}.lr")
        norm = ".".join(segs)
        if norm not in out:
            out.append(norm)
    return out


def _lc(sql: str) -> ColumnElement[Any]:
    """Trusted SQL text (paths are spelled by :mod:`..query.paths`, values are bound)."""
    return literal_column(sql)


def _json_text(segs: Sequence[str], dialect: str) -> str:
    """SQL for the value at a JSON path: its JSON text on SQLite, the jsonb on PostgreSQL
    (SQL NULL when missing)."""
    col, *keys = segs
    if dialect == "postgresql":
        x = f"tasks.{col}"
        for k in keys:
            x = f"({x} -> {sqlstr(k)})"
        return x
    return f"tasks.{col} -> {sqlstr(json_path_literal(keys))}"


def _key_expr(path: str, dialect: str) -> ColumnElement[Any]:
    segs = path.split(".")
    if segs[0] in COLUMN_FACETS:
        return tasks.c[COLUMN_FACETS[segs[0]]]
    return _lc(_json_text(segs, dialect))


def _decode(v: Any, is_json: bool) -> Any:
    """A group key or metric from the database -> a Python value (MISSING for SQL NULL)."""
    if not is_json:
        return v
    if v is None:
        return MISSING
    if not isinstance(v, str):
        return v
    c = v[:1]
    if c == '"' and "\\" not in v:  # a plain string (the common case), without the parser
        return v[1:-1]
    if c.isdigit() or c == "-":
        if "." in v or "e" in v or "E" in v:
            return float(v)
        return int(v)
    return json.loads(v)


# -- leaf paths (default by / metrics) ---------------------------------------------------------


@dataclass(frozen=True)
class LeafPath:
    path: str
    present: int  # tasks that have it
    distinct: int  # 1: every task that has it has the same value; 2: values differ
    numeric: int  # tasks where it is a number


async def leaf_paths(conn: AsyncConnection, store: TaskStore, scope: ColumnElement[bool],
                     col: str) -> list[LeafPath]:
    """The leaf paths of the ``col`` documents within ``scope`` (arrays are leaves, and so
    is an object where another task has a leaf; keys that cannot be written as a dotted path
    are skipped)."""
    if store.dialect == "postgresql":
        sql_rows = await _pg_leaves(conn, scope, col)
    else:
        sql_rows = await _sqlite_leaves(conn, scope, col)
    out = []
    for keys, present, distinct, numeric in sql_rows:
        if not keys or any(not k or "." in k or not sqlite_key_safe(k) for k in keys):
            continue
        out.append(LeafPath(".".join([col, *keys]), int(present), int(distinct), int(numeric)))
    # a path that is a leaf in some tasks and an object in others is one value: its
    # sub-paths are not paths of their own
    found = {lp.path for lp in out}
    out = [lp for lp in out if not any(a in found for a in _ancestors(lp.path))]
    out.sort(key=lambda lp: lp.path)
    return out


async def _sqlite_leaves(conn: AsyncConnection, scope: ColumnElement[bool], col: str
                         ) -> list[tuple[list[str], int, int, int]]:
    jt = func.json_tree(tasks.c[col]).table_valued(
        "fullkey", "path", "key", "type", "atom", "value").alias("jt")
    kind = _lc("CASE jt.type WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' "
                          "WHEN 'true' THEN 'b' WHEN 'false' THEN 'b' ELSE jt.type END")
    val = _lc("CASE WHEN jt.type = 'array' THEN jt.value ELSE jt.atom END")
    leaves = (select(jt.c.fullkey.label("k"), kind.label("kind"), val.label("v"))
              .select_from(tasks).join(jt, _lc("1") == 1)
              .where(scope, jt.c.type != "object",
                     _lc("typeof(jt.key)") == "text",
                     _lc("jt.path NOT GLOB '*[[]*'"))
              .subquery("leaves"))
    # values differ when the kinds differ, or the numbers (compared as numbers: 1 == 1.0), or
    # the other values (compared as text): min != max, without counting distinct values
    num = _lc("CASE WHEN leaves.kind = 'n' THEN leaves.v END")
    other = _lc("CASE WHEN leaves.kind != 'n' THEN leaves.v END")
    stmt = select(leaves.c.k, func.count(), func.count(num),
                  (func.min(leaves.c.kind) != func.max(leaves.c.kind))
                  | (func.min(num) != func.max(num)) | (func.min(other) != func.max(other))
                  ).group_by(leaves.c.k)
    rows = []
    for fullkey, present, numeric, differ in await conn.execute(stmt):
        keys = _split_fullkey(fullkey)
        if keys is not None:
            rows.append((keys, present, 2 if differ else 1, int(numeric or 0)))
    return rows


def _split_fullkey(fullkey: str) -> list[str] | None:
    """``$.a."b c".d`` -> ["a", "b c", "d"] (None for anything else)."""
    out: list[str] = []
    i = 1
    while i < len(fullkey):
        if fullkey[i] != ".":
            return None
        i += 1
        if i < len(fullkey) and fullkey[i] == '"':
            end = fullkey.find('"', i + 1)
            if end < 0:
                return None
            out.append(fullkey[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < len(fullkey) and fullkey[j] not in '.["':
                j += 1
            out.append(fullkey[i:j])
            i = j
    return out


async def _pg_leaves(conn: AsyncConnection, scope: ColumnElement[bool], col: str
                     ) -> list[tuple[list[str], int, int, int]]:
    """Level by level: one ``jsonb_each`` scan per depth over the object-valued paths found
    at the depth above (a recursive CTE took 4x as long on 100,000 tasks)."""
    from sqlalchemy import column, true, values
    from sqlalchemy.dialects.postgresql import ARRAY

    rows: list[tuple[list[str], int, int, int]] = []
    parents: list[list[str]] = [[]]
    for _ in range(_MAX_DEPTH):
        if not parents:
            break
        level = values(column("k", ARRAY(Text)), name="l").data([(p,) for p in parents])
        each = func.jsonb_each(_lc(
            f"CASE WHEN jsonb_typeof(tasks.{col} #> l.k) = 'object' "
            f"THEN tasks.{col} #> l.k ELSE '{{}}'::jsonb END")).table_valued(
            "key", "value").alias("e")
        kind = func.jsonb_typeof(each.c.value)
        leaf = kind != "object"
        num = _lc("CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value)::numeric END")
        other = _lc("CASE WHEN jsonb_typeof(e.value) NOT IN ('number', 'object') "
                    "THEN (e.value)::text END")
        leaf_kind = _lc("CASE WHEN jsonb_typeof(e.value) != 'object' "
                        "THEN jsonb_typeof(e.value) END")
        stmt = (select(_lc("l.k"), each.c.key, func.count().filter(leaf), func.count(num),
                       func.count().filter(kind == "object"),
                       (func.min(leaf_kind) != func.max(leaf_kind))
                       | (func.min(num) != func.max(num))
                       | (func.min(other) != func.max(other)))
                .select_from(tasks).join(level, true()).join(each, true()).where(scope)
                .group_by(_lc("l.k"), each.c.key))
        parents = []
        for parent, key, present, numeric, objects, differ in await conn.execute(stmt):
            path = [*parent, key]
            if present:
                rows.append((path, int(present), 2 if differ else 1, int(numeric or 0)))
            if objects:
                parents.append(path)
    return rows


# -- the aggregation ---------------------------------------------------------------------------


@dataclass
class _Part:
    """One SQL group's figures for one metric, before merging."""

    moments: Moments
    nonfinite: int
    missing: int


def _metric_columns(j: int, segs: Sequence[str], dialect: str) -> tuple[list[Any], list[Any]]:
    """(inner columns, aggregate columns) of metric ``j``."""
    t = _json_text(segs, dialect)
    raw: list[Any]
    if dialect == "postgresql":
        raw = [_lc(t).label(f"t{j}")]
        x = _lc(f"x{j}")
        num = _lc(f"CASE WHEN jsonb_typeof(t{j}) = 'number' THEN (t{j})::float8 END")
        nonfinite = _lc(
            f"t{j} IN ({', '.join(sqlstr(json.dumps(s)) + '::jsonb' for s in NONFINITE)})")
        miss = _lc(f"(t{j} IS NULL OR jsonb_typeof(t{j}) = 'null')")
        aggs = [func.count(x), func.sum(x), func.sum(_lc(f"x{j} * x{j}")), func.min(x),
                func.max(x), func.count().filter(_lc(f"f{j}")),
                func.count().filter(_lc(f"m{j}"))]
    else:
        # json_extract gives numbers as numbers and strings as text, once per row; true and
        # false come as 1 and 0, told apart by json_type (asked only for 0 and 1, on the
        # document passed along as d_<column>)
        col, *keys = segs
        path = sqlstr(json_path_literal(keys))
        raw = [_lc(f"json_extract(tasks.{col}, {path})").label(f"t{j}")]
        x = _lc(f"x{j}")
        num = _lc(f"CASE WHEN typeof(t{j}) IN ('integer', 'real') AND (t{j} NOT IN (0, 1) "
                  f"OR json_type(d_{col}, {path}) NOT IN ('true', 'false')) THEN t{j} END")
        nonfinite = _lc(f"(typeof(t{j}) = 'text' AND t{j} IN "
                        f"({', '.join(sqlstr(s) for s in NONFINITE)}))")
        miss = _lc(f"t{j} IS NULL")
        aggs = [func.count(x), func.total(x), func.total(_lc(f"x{j} * x{j}")),
                func.min(x), func.max(x), func.count().filter(_lc(f"f{j}")),
                func.count().filter(_lc(f"m{j}"))]
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


def _ancestors(path: str) -> list[str]:
    """``args.a.b.c`` -> ``args.a``, ``args.a.b`` (below the document)."""
    segs = path.split(".")
    return [".".join(segs[:i]) for i in range(2, len(segs))]


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
    inner_cols: list[Any] = [_key_expr(p, dialect).label(f"g{i}") for i, p in enumerate(by)]
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
    g_cols = [_lc(f"g{i}") for i in range(len(by))]
    mid = _unlimited(select(*g_cols, _lc("st"), *mid_extra).select_from(inner),
                     dialect).subquery("m")
    key_out = [_lc(f"(g{i})::text") if dialect == "postgresql" and is_json[i]
               else _lc(f"g{i}") for i in range(len(by))]
    st = _lc("st")
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
        values = tuple(_decode(row[i], is_json[i]) for i in range(nb))
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
    keys = [_key_text(p, dialect, is_json[i]).label(f"g{i}") for i, p in enumerate(by)]
    for m in todo:
        t = _lc(_json_text(m.split("."), dialect))
        t_out = _lc(f"({_json_text(m.split('.'), dialect)})::text") \
            if dialect == "postgresql" else t
        values: dict[tuple[Any, ...], list[int | float]] = {}
        stmt = select(*keys, t_out).select_from(tasks).where(scope, _numeric(m, dialect))
        for row in await conn.execute(stmt):
            key = tuple(value_key(_decode(row[i], is_json[i])) for i in range(len(by)))
            if groups.get(key) is not None and groups[key].exact.get(m):
                x = _decode(row[len(by)], True)
                if is_number(x):
                    values.setdefault(key, []).append(x)
        for key, xs in values.items():
            g = groups[key]
            p = g.parts[m]
            g.parts[m] = _Part(Moments.of(xs), p.nonfinite, p.missing)


def _json_type_args(path: str) -> str:
    col, *keys = path.split(".")
    return f"tasks.{col}, {sqlstr(json_path_literal(keys))}"


def _key_text(path: str, dialect: str, is_json: bool) -> ColumnElement[Any]:
    expr = _key_expr(path, dialect)
    if dialect == "postgresql" and is_json:
        return _lc(f"({_json_text(path.split('.'), dialect)})::text")
    return expr


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
        return _lc(_json_text(path.split("."), dialect)).in_(select(each.c.value))
    x = func.json_extract(tasks.c[col], literal(json_path_literal(keys), Text))
    each = func.json_each(literal(values, Text)).table_valued("value")
    return x.in_(select(each.c.value))


def _numeric(path: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return func.jsonb_typeof(_lc(_json_text(path.split("."), dialect))) == "number"
    return _lc(f"json_type({_json_type_args(path)})").in_(["integer", "real"])


async def _scan_best(conn: AsyncConnection, dialect: str, scope: ColumnElement[bool],
                     by: list[str], metrics: list[str], conds: dict[str, ColumnElement[bool]],
                     groups: dict[tuple[Any, ...], Group]) -> None:
    is_json = [p.split(".")[0] in JSON_FIELDS for p in by]
    keys = [_key_text(p, dialect, is_json[i]).label(f"g{i}") for i, p in enumerate(by)]
    outs = [(_lc(f"({_json_text(m.split('.'), dialect)})::text") if dialect == "postgresql"
             else _lc(_json_text(m.split("."), dialect))).label(f"t{j}")
            for j, m in enumerate(metrics)]
    stmt = select(*keys, tasks.c.task_id, *outs).select_from(tasks).where(
        scope, or_(*(conds[m] for m in metrics)))
    nb = len(by)
    for row in await conn.execute(stmt):
        g = groups.get(tuple(value_key(_decode(row[i], is_json[i])) for i in range(nb)))
        if g is None:
            continue
        task_id = row[nb]
        for j, m in enumerate(metrics):
            raw = row[nb + 1 + j]
            if raw is None:
                continue
            x = _decode(raw, True)
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

