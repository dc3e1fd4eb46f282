"""`facets PATH` on an existing SQLite database without loading SQLAlchemy.

The command with no selector and no filter (the common "which values does args.model take")
reads through the ``sqlite3`` module: same SQL as :func:`labtasker_tui.query.facets.
facet_counts` (queue-scoped when the file holds several queues; the expression index of
``index add PATH`` when it covers the path), same result. Numbers are aggregated in SQL
(a TEMP table of the groups) rather than shipped to Python one group at a time, unless arrays
are present. Anything unusual returns None: the caller then takes the regular path.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from ..query.facet_summary import (
    COLUMN_FACETS,
    Bucket,
    Facets,
    NumberTotals,
    NumericStats,
    _column_groups,
    _decode,
    _edges,
    _summarise,
    canonical_number,
    parse_facet_path,
    sqlite_typed_expr,
    wants_buckets,
)
from ..query.paths import index_name_for, json_path_literal, sqlstr
from ..settings import BUSY_TIMEOUT_MS, SCHEMA_VERSION

_RESOLVE_SHARE = 0.05  # as labtasker_tui.query.facets
_RESOLVE_MIN = 20_000
_NUMBER = "(v GLOB '[0-9]*' OR v GLOB '-*')"  # JSON text of a number (as _decode)


def facets_sqlite(db: Path, queue: str, path: str, limit: int) -> Facets | None:
    """Facets of ``path`` over every task of ``queue``; None when the fast path does not apply."""
    if not db.is_file():
        return None
    segs = parse_facet_path(path)  # FacetError: bad path
    con = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            version = con.execute(
                "SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None
        if version is None or int(version[0]) != SCHEMA_VERSION:
            return None
        con.execute("BEGIN")  # one snapshot for every query below
        lo = con.execute("SELECT min(queue) FROM tasks").fetchone()[0]
        hi = con.execute("SELECT max(queue) FROM tasks").fetchone()[0]
        one_queue = lo is None or (lo == queue and hi == queue)
        where, params = ("", ()) if one_queue else (" WHERE tasks.queue = ?", (queue,))
        if len(segs) == 1 and segs[0] in COLUMN_FACETS:
            col = f"tasks.{COLUMN_FACETS[segs[0]]}"
            rows = con.execute(f"SELECT {col}, count(*) FROM tasks{where} GROUP BY {col}",
                               params).fetchall()
            return _summarise(path, _column_groups(rows), limit)
        if one_queue:
            found = _from_index(con, path, segs, limit)
            if found is not None:
                return found
        con.execute("CREATE TEMP TABLE facet_groups AS SELECT "
                    f"{sqlite_typed_expr(segs)} AS v, count(*) AS n FROM tasks{where} "
                    "GROUP BY v", params)
        try:
            return _from_groups(con, path, limit)
        finally:
            con.execute("DROP TABLE temp.facet_groups")
    finally:
        con.close()


def _from_groups(con: sqlite3.Connection, path: str, limit: int) -> Facets:
    """Summarise TEMP ``facet_groups(v JSON text, n)``: numbers in SQL when no arrays."""
    if con.execute("SELECT EXISTS(SELECT 1 FROM facet_groups WHERE v GLOB '[[]*')"
                   ).fetchone()[0]:
        rows = con.execute("SELECT v, n FROM facet_groups").fetchall()
        return _summarise(path, [(_decode(v), n) for v, n in rows], limit)
    rest = con.execute(f"SELECT v, n FROM facet_groups WHERE v IS NULL OR NOT {_NUMBER}"
                       ).fetchall()
    con.execute("CREATE TEMP TABLE facet_numbers AS SELECT v ->> '$' AS x, sum(n) AS n "
                f"FROM facet_groups WHERE {_NUMBER} GROUP BY x")
    try:
        numbers = _number_totals(con, limit)
    finally:
        con.execute("DROP TABLE temp.facet_numbers")
    return _summarise(path, [(_decode(v), n) for v, n in rest], limit, numbers)


def _number_totals(con: sqlite3.Connection, limit: int) -> NumberTotals:
    """Aggregate TEMP ``facet_numbers(x, n)`` (one row per distinct number) as _numeric."""
    distinct, occurrences, lo, hi = con.execute(
        "SELECT count(*), coalesce(sum(n), 0), min(x), max(x) FROM facet_numbers").fetchone()
    fractional = con.execute(  # stops at the first one (Python's float keys, see _key)
        "SELECT EXISTS(SELECT 1 FROM facet_numbers WHERE typeof(x) = 'real' AND "
        "(x != CAST(x AS INTEGER) OR abs(x) >= 9007199254740992.0))").fetchone()[0]
    top = [(canonical_number(x), n) for x, n in con.execute(
        "SELECT x, n FROM facet_numbers ORDER BY n DESC, x LIMIT ?", (limit,))]
    if not distinct:
        return NumberTotals(top, 0, 0, None)
    lo, hi = canonical_number(lo), canonical_number(hi)
    buckets: list[Bucket] = []
    if wants_buckets(distinct, lo, hi, math.isfinite(lo) and math.isfinite(hi)):
        edges = _edges(lo, hi, not fractional)
        parts, params = [], []
        for i in range(len(edges) - 1):
            last = i == len(edges) - 2
            parts.append(f"coalesce(sum(CASE WHEN x >= ? AND x {'<=' if last else '<'} ? "
                         "THEN n END), 0)")
            params += [float(edges[i]), float(edges[i + 1])]
        counts = con.execute(f"SELECT {', '.join(parts)} FROM facet_numbers",
                             params).fetchone()
        buckets = [Bucket(edges[i], edges[i + 1], counts[i], closed=i == len(edges) - 2)
                   for i in range(len(edges) - 1)]
    return NumberTotals(top, distinct, occurrences,
                        NumericStats(lo, hi, occurrences, distinct, buckets))


def _from_index(con: sqlite3.Connection, path: str, segs: tuple[str, ...], limit: int
                ) -> Facets | None:
    """As :func:`labtasker_tui.query.facets._from_index` (GROUP BY over the expression index,
    ambiguous rows re-read typed), the numbers aggregated in SQL.

    The index orders NULL < numbers < text: each part is read as its own index range.
    """
    name = index_name_for(segs)
    if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' "
                   "AND name = ?", (name,)).fetchone() is None:
        return None
    col, *keys = segs
    ex = f"json_extract(tasks.{col}, {sqlstr(json_path_literal(keys))})"
    # min(ex), not ex: SQLite 3.40 reads a grouped expression from the row, an aggregate
    # of it from the index
    nulls = con.execute(f"SELECT count(*) FROM tasks WHERE {ex} IS NULL").fetchone()[0]
    bits = [(v, n) for v, n in con.execute(
        f"SELECT min({ex}), count(*) FROM tasks WHERE {ex} IN (0, 1) GROUP BY {ex}")
        if type(v) is int]
    texts = con.execute(
        f"SELECT min({ex}), count(*) FROM tasks WHERE {ex} >= '' GROUP BY {ex}").fetchall()
    # json_extract drops the JSON type: NULL is null or missing, 1/0 may be true/false,
    # "[..."/"{..." may be an array/object
    amb_text = [(v, n) for v, n in texts if isinstance(v, str) and v[:1] in ("[", "{")]
    total = con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    if nulls + sum(n for _, n in bits + amb_text) > max(_RESOLVE_MIN, total * _RESOLVE_SHARE):
        return None  # cheaper to scan
    resolved: list[tuple[Any, int]] = []
    typed = sqlite_typed_expr(segs)
    if nulls:
        resolved.extend((_decode(v), n) for v, n in con.execute(
            f"SELECT {typed} AS v, count(*) FROM tasks WHERE {ex} IS NULL GROUP BY v"))
    keys_in = [v for v, _ in bits + amb_text]
    if keys_in:
        resolved.extend((_decode(v), n) for v, n in con.execute(
            f"SELECT {typed} AS v, count(*) FROM tasks WHERE {ex} IN "
            f"({', '.join('?' * len(keys_in))}) GROUP BY v", keys_in))
    rest = [(v, n) for v, n in texts if not (isinstance(v, str) and v[:1] in ("[", "{"))]
    con.execute(f"CREATE TEMP TABLE facet_numbers AS SELECT min({ex}) AS x, count(*) AS n "
                f"FROM tasks WHERE {ex} < '' GROUP BY {ex}")
    try:
        con.executemany("DELETE FROM facet_numbers WHERE x = ? AND typeof(x) = 'integer'",
                        [(v,) for v, _ in bits])  # re-read typed above
        if any(type(v) is list for v, _ in resolved):  # elements may be numbers: Python
            nums = con.execute("SELECT x, n FROM facet_numbers").fetchall()
            f = _summarise(path, nums + rest + resolved, limit)
        else:
            merged: dict[int | float, int] = {}
            for v, n in resolved:
                if type(v) in (int, float):
                    key = canonical_number(v)
                    merged[key] = merged.get(key, 0) + n
                else:
                    rest.append((v, n))
            con.executemany("INSERT INTO facet_numbers VALUES (?, ?)", merged.items())
            f = _summarise(path, rest, limit, _number_totals(con, limit))
    finally:
        con.execute("DROP TABLE temp.facet_numbers")
    return Facets(**{**f.__dict__, "used_index": True})
