"""The paths of results grouped by swept parameters: checking them, spelling them in SQL,
and finding the default ones (the leaf paths of ``args`` / ``summary`` within a selection).

SQLite walks each document with ``json_tree``; PostgreSQL with ``jsonb_each`` a level at a
time (a recursive CTE took 4x as long on 100,000 tasks). Per path: how many tasks have it,
whether its values differ (min != max of the kinds, of the numbers compared as numbers and
of the other values as text: no distinct counting), and how many hold a number.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import UserError
from ..fields import JSON_FIELDS
from ..query.paths import json_path_literal, sqlite_key_safe, sqlstr
from ..results_model import MISSING
from ..schema import tasks
from .facet_summary import COLUMN_FACETS, FacetError, parse_facet_path, typed_expr
from .task_store import TaskStore

#: how deep the default paths are looked for (as the filter screen's path discovery)
_MAX_DEPTH = 8


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


def sql_text(sql: str) -> ColumnElement[Any]:
    """Trusted SQL text (paths are spelled by :mod:`..query.paths`, values are bound)."""
    return literal_column(sql)


def key_expr(path: str, dialect: str) -> ColumnElement[Any]:
    segs = path.split(".")
    if segs[0] in COLUMN_FACETS:
        return tasks.c[COLUMN_FACETS[segs[0]]]
    return sql_text(typed_expr(segs, dialect))


def decode(v: Any, is_json: bool) -> Any:
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
    out = [lp for lp in out if not any(a in found for a in ancestors(lp.path))]
    out.sort(key=lambda lp: lp.path)
    return out


async def _sqlite_leaves(conn: AsyncConnection, scope: ColumnElement[bool], col: str
                         ) -> list[tuple[list[str], int, int, int]]:
    jt = func.json_tree(tasks.c[col]).table_valued(
        "fullkey", "path", "key", "type", "atom", "value").alias("jt")
    kind = sql_text("CASE jt.type WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' "
                          "WHEN 'true' THEN 'b' WHEN 'false' THEN 'b' ELSE jt.type END")
    val = sql_text("CASE WHEN jt.type = 'array' THEN jt.value ELSE jt.atom END")
    leaves = (select(jt.c.fullkey.label("k"), kind.label("kind"), val.label("v"))
              .select_from(tasks).join(jt, sql_text("1") == 1)
              .where(scope, jt.c.type != "object",
                     sql_text("typeof(jt.key)") == "text",
                     sql_text("jt.path NOT GLOB '*[[]*'"))
              .subquery("leaves"))
    # values differ when the kinds differ, or the numbers (compared as numbers: 1 == 1.0), or
    # the other values (compared as text): min != max, without counting distinct values
    num = sql_text("CASE WHEN leaves.kind = 'n' THEN leaves.v END")
    other = sql_text("CASE WHEN leaves.kind != 'n' THEN leaves.v END")
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
        each = func.jsonb_each(sql_text(
            f"CASE WHEN jsonb_typeof(tasks.{col} #> l.k) = 'object' "
            f"THEN tasks.{col} #> l.k ELSE '{{}}'::jsonb END")).table_valued(
            "key", "value").alias("e")
        kind = func.jsonb_typeof(each.c.value)
        leaf = kind != "object"
        num = sql_text("CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value)::numeric END")
        other = sql_text("CASE WHEN jsonb_typeof(e.value) NOT IN ('number', 'object') "
                    "THEN (e.value)::text END")
        leaf_kind = sql_text("CASE WHEN jsonb_typeof(e.value) != 'object' "
                        "THEN jsonb_typeof(e.value) END")
        stmt = (select(sql_text("l.k"), each.c.key, func.count().filter(leaf), func.count(num),
                       func.count().filter(kind == "object"),
                       (func.min(leaf_kind) != func.max(leaf_kind))
                       | (func.min(num) != func.max(num))
                       | (func.min(other) != func.max(other)))
                .select_from(tasks).join(level, true()).join(each, true()).where(scope)
                .group_by(sql_text("l.k"), each.c.key))
        parents = []
        for parent, key, present, numeric, objects, differ in await conn.execute(stmt):
            path = [*parent, key]
            if present:
                rows.append((path, int(present), 2 if differ else 1, int(numeric or 0)))
            if objects:
                parents.append(path)
    return rows


def ancestors(path: str) -> list[str]:
    """``args.a.b.c`` -> ``args.a``, ``args.a.b`` (below the document)."""
    segs = path.split(".")
    return [".".join(segs[:i]) for i in range(2, len(segs))]


def json_type_args(path: str) -> str:
    col, *keys = path.split(".")
    return f"tasks.{col}, {sqlstr(json_path_literal(keys))}"


def key_text(path: str, dialect: str, is_json: bool) -> ColumnElement[Any]:
    expr = key_expr(path, dialect)
    if dialect == "postgresql" and is_json:
        return sql_text(f"({typed_expr(path.split('.'), dialect)})::text")
    return expr
