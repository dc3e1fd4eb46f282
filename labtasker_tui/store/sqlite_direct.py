"""SQLite through the ``sqlite3`` module: the connection set-up, and the fast paths that skip
SQLAlchemy on an existing file.

A one-liner in a sweep script runs thousands of times: importing SQLAlchemy's async engine
costs more than the work. When the database file exists and has the current schema
(:func:`open_existing`), ``submit`` of one task, ``facets PATH`` over a whole queue, and the
reads ``count`` and ``ls -q`` (:func:`count_by_status_sqlite`, :func:`ids_sqlite`: a filter
arrives as SQLite WHERE text, compiled once by
:mod:`labtasker_tui.query.dialects.sqlite_text` and kept by :mod:`.sql_cache`) run here
with the engine's pragmas; whole tasks for ``ls`` and ``export`` are read by
:mod:`.sqlite_direct_reads` on these connections. Anything unusual returns None and the
caller takes the store.
Tests check each fast path against the store it shortcuts. The facet code imports its
helpers when called, so that ``submit`` loads no more than it writes with.

Direct SQLite code goes here: :func:`apply_pragmas` is also what the engine runs on each new
connection, and :func:`index_facets` (GROUP BY over an expression index) is the store's facet
algorithm for that case too, run on the store's connection through :class:`DriverConnection`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..settings import BUSY_TIMEOUT_MS, SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .dedup import SubmitOutcome
    from .facet_summary import Facets, NumberTotals

#: Every connection: WAL (readers never block the writer), the busy timeout, and foreign keys.
PRAGMAS = ("PRAGMA journal_mode=WAL", f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
           "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")
#: Ambiguous index rows (NULL, 0/1, "[..."/"{...") are re-read typed up to this share.
RESOLVE_SHARE = 0.05
RESOLVE_MIN = 20_000
_NUMBER = "(v GLOB '[0-9]*' OR v GLOB '-*')"  # JSON text of a number (as decode)


# -- connections ------------------------------------------------------------------------------


class Rows(Protocol):
    """What a statement returns: iterable rows, as sqlite3's cursor and SQLAlchemy's result."""

    def __iter__(self) -> Iterator[Any]: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Sequence[Any]: ...


class SqliteLike(Protocol):
    """The part of ``sqlite3.Connection`` the algorithms here use."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Rows: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...


class DriverConnection:
    """A SQLAlchemy connection on SQLite (inside ``AsyncConnection.run_sync``) seen as a
    sqlite3 one, so that the store runs the algorithms of this module in its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Rows:
        if params:
            return self.conn.exec_driver_sql(sql, tuple(params))
        return self.conn.exec_driver_sql(sql)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> None:
        batch = [tuple(p) for p in params]
        if batch:
            self.conn.exec_driver_sql(sql, batch)


def apply_pragmas(con: Any) -> None:
    """The connection set-up (a sqlite3 connection, or the engine's DBAPI connection)."""
    cur = con.cursor()
    for pragma in PRAGMAS:
        cur.execute(pragma)
    cur.close()


def open_existing(path: Path) -> sqlite3.Connection | None:
    """A connection (autocommit: the caller says BEGIN) to an existing database with the
    current schema; None when the file is missing, has no schema yet (the store creates it)
    or another version (the store migrates or refuses)."""
    if not path.is_file():
        return None
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        apply_pragmas(con)
        try:
            version = con.execute(
                "SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            version = None
        if version is not None and str(version[0]).strip() == str(SCHEMA_VERSION):
            return con
    except BaseException:
        con.close()
        raise
    con.close()
    return None


# -- reads: count and ids ----------------------------------------------------------------------

#: Names of the Python functions compiled filters call (query/sqlite_functions.py registers
#: them; tests/store/test_direct_path.py checks that every one is named here).
_FUNCTION_NAMES = ("regex_search(", "regexp", "bson_compare(", "filter_error(", "mod(")


def register_functions_for(con: sqlite3.Connection, sql: str) -> None:
    """Register the filter functions on ``con`` only when ``sql`` calls one of them."""
    lowered = sql.lower()  # a name inside a string literal only registers them needlessly
    if any(name in lowered for name in _FUNCTION_NAMES):
        from ..query.sqlite_functions import register_sqlite_functions

        register_sqlite_functions(con)


def selection_sql(queue: str, where: str | None, params: Sequence[Any],
                  ids: Sequence[str] | None, name: str | None, status: str | None, *,
                  scan: bool, by_id: bool = False) -> tuple[str, list[Any]]:
    """The store's scope (``TaskStore.scope``) as SQL text: the queue, ids, name, status and
    filter, AND-ed. ``scan``: a filter over a whole queue compares the queue unindexed, so
    that SQLite scans the table instead of paying a row lookup per task. ``by_id``: the
    caller adds its own task id condition, which must pick the index (the queue unindexed)."""
    queue_col = "(tasks.queue || '')" if by_id or (scan and where is not None and ids is None) \
        else "tasks.queue"
    conds, args = [f"{queue_col} = ?"], [queue]
    if ids is not None:  # one JSON array parameter, as the store binds many ids
        import json

        conds.append("tasks.task_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(list(ids)))
    if name is not None:
        conds.append("tasks.task_name = ?")
        args.append(name)
    if status is not None:
        conds.append("tasks.status = ?")
        args.append(status)
    if where is not None:
        conds.append(f"({where})")
        args += params
    return " AND ".join(conds), args


def count_by_status_sqlite(con: sqlite3.Connection, queue: str, where: str | None,
                           params: Sequence[Any], ids: Sequence[str] | None,
                           name: str | None, status: str | None) -> dict[str, int]:
    """Tasks per status (only the statuses present), as ``TaskStore.count_by_status``."""
    cond, args = selection_sql(queue, where, params, ids, name, status, scan=True)
    if where is not None:
        register_functions_for(con, where)
    con.execute("BEGIN")
    try:
        rows = con.execute(f"SELECT tasks.status, count(*) FROM tasks WHERE {cond} "
                           "GROUP BY tasks.status", args).fetchall()
    finally:
        con.execute("COMMIT")
    return {str(st): int(n) for st, n in rows}


def ids_sqlite(con: sqlite3.Connection, queue: str, where: str | None, params: Sequence[Any],
               ids: Sequence[str] | None, name: str | None, status: str | None,
               limit: int | None, offset: int, chunk: int = 5000,
               order: tuple[str, Sequence[Any]] | None = None) -> list[str]:
    """The matching ids in fetch order, or in ``order`` (ORDER BY text and parameters, from
    :func:`.sqlite_direct_reads.order_sql`), as ``TaskStore.iter_batches(ids_only=True)``;
    read in one transaction; kept as one string per chunk of ids (memory)."""
    from ..fields import FETCH_ORDER, TIE_BREAKERS

    cond, args = selection_sql(queue, where, params, ids, name, status, scan=not limit)
    if where is not None:
        register_functions_for(con, where)
    if order is None:
        first: dict[str, bool] = {}
        for col, desc in FETCH_ORDER + TIE_BREAKERS:
            first.setdefault(col, desc)
        order = (", ".join(f"tasks.{c} {'DESC' if d else 'ASC'}" for c, d in first.items()),
                 ())
    else:
        register_functions_for(con, order[0])
    sql = f"SELECT tasks.task_id FROM tasks WHERE {cond} ORDER BY {order[0]}"
    args = [*args, *order[1]]
    if limit or offset:
        sql += f" LIMIT {int(limit) if limit else -1} OFFSET {int(offset)}"
    out: list[str] = []
    con.execute("BEGIN")
    try:
        cur = con.execute(sql, args)
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                break
            out.append("\n".join(r[0] for r in rows))
    finally:
        con.execute("COMMIT")
    return out


# -- submit -----------------------------------------------------------------------------------


def submit_sqlite(path: Path, queue: str, specs: list[dict[str, Any]], *,
                  dedup: str = "off") -> SubmitOutcome | None:
    """Insert ``specs`` as new tasks (rows built and validated by :mod:`.rows`, exactly as the
    store builds them) in one ``BEGIN IMMEDIATE`` transaction that also bumps the change
    marker, deduplicated as ``TaskStore.submit_batch`` does (:mod:`.dedup`; the candidates are
    read under the write lock); None when the fast path does not apply."""
    from . import dedup as dd
    from .rows import TASK_FIELDS, json_loads, new_task_row, sqlite_params

    if not path.is_file():
        return None
    now = datetime.now(UTC)
    rows = [new_task_row(spec, queue, now) for spec in specs]  # UserError: bad input
    con = open_existing(path)
    if con is None:
        return None
    try:
        sql = (f"INSERT INTO tasks ({', '.join(TASK_FIELDS)}) "
               f"VALUES ({', '.join('?' * len(TASK_FIELDS))})")
        con.execute("BEGIN IMMEDIATE")
        try:
            candidates: list[dict[str, Any]] = []
            if dedup != "off":
                look = (f"SELECT {', '.join(dd.CANDIDATE_COLUMNS)} FROM tasks "
                        "WHERE queue = ? AND args_hash = ?")
                for h in {r["args_hash"] for r in rows}:
                    for found in con.execute(look, (queue, h)):
                        c = dict(zip(dd.CANDIDATE_COLUMNS, found, strict=True))
                        c["args"], c["cmd"] = json_loads(c["args"]), json_loads(c["cmd"])
                        candidates.append(c)
            todo = dd.plan(rows, candidates, dd.check_policy(dedup), False)
            if todo.insert:
                con.executemany(sql, sqlite_params(todo.insert))
                con.execute("UPDATE change_marker SET seq = seq + 1 WHERE id = 1")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return todo.outcome


# -- facets -----------------------------------------------------------------------------------


def facets_sqlite(db: Path, queue: str, path: str, limit: int) -> Facets | None:
    """Facets of ``path`` over every task of ``queue`` (as
    :func:`labtasker_tui.store.facets.facet_counts` without a selection); None when the fast
    path does not apply. Numbers are aggregated in SQL (a TEMP table of the groups) rather
    than shipped to Python one group at a time, unless arrays are present."""
    from .facet_summary import (
        COLUMN_FACETS,
        column_groups,
        parse_facet_path,
        sqlite_typed_expr,
        summarise,
    )

    if not db.is_file():
        return None
    segs = parse_facet_path(path)  # FacetError: bad path
    con = open_existing(db)
    if con is None:
        return None
    try:
        con.execute("BEGIN")  # one snapshot for every query below
        lo = con.execute("SELECT min(queue) FROM tasks").fetchone()[0]
        hi = con.execute("SELECT max(queue) FROM tasks").fetchone()[0]
        one_queue = lo is None or (lo == queue and hi == queue)
        where, params = ("", ()) if one_queue else (" WHERE tasks.queue = ?", (queue,))
        if len(segs) == 1 and segs[0] in COLUMN_FACETS:
            col = f"tasks.{COLUMN_FACETS[segs[0]]}"
            rows = con.execute(f"SELECT {col}, count(*) FROM tasks{where} GROUP BY {col}",
                               params).fetchall()
            return summarise(path, column_groups(rows), limit)
        if one_queue:
            found = index_facets(con, path, segs, limit)
            if found is not None:
                return found
        con.execute("CREATE TEMP TABLE facet_groups AS SELECT "
                    f"{sqlite_typed_expr(segs)} AS v, count(*) AS n FROM tasks{where} "
                    "GROUP BY v", params)
        try:
            return facets_from_groups(con, path, limit)
        finally:
            con.execute("DROP TABLE temp.facet_groups")
    finally:
        con.close()


def facets_from_groups(con: SqliteLike, path: str, limit: int) -> Facets:
    """Summarise TEMP ``facet_groups(v JSON text, n)``: numbers in SQL when no arrays."""
    from .facet_summary import decode, summarise

    if con.execute("SELECT EXISTS(SELECT 1 FROM facet_groups WHERE v GLOB '[[]*')"
                   ).fetchone()[0]:
        rows = con.execute("SELECT v, n FROM facet_groups").fetchall()
        return summarise(path, [(decode(v), n) for v, n in rows], limit)
    rest = con.execute(f"SELECT v, n FROM facet_groups WHERE v IS NULL OR NOT {_NUMBER}"
                       ).fetchall()
    con.execute("CREATE TEMP TABLE facet_numbers AS SELECT v ->> '$' AS x, sum(n) AS n "
                f"FROM facet_groups WHERE {_NUMBER} GROUP BY x")
    try:
        numbers = _number_totals(con, limit)
    finally:
        con.execute("DROP TABLE temp.facet_numbers")
    return summarise(path, [(decode(v), n) for v, n in rest], limit, numbers)


def _number_totals(con: SqliteLike, limit: int) -> NumberTotals:
    """Aggregate TEMP ``facet_numbers(x, n)`` (one row per distinct number) as _numeric."""
    from .facet_summary import (
        Bucket,
        NumberTotals,
        NumericStats,
        bucket_edges,
        canonical_number,
        wants_buckets,
    )

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
        edges = bucket_edges(lo, hi, not fractional)
        parts: list[str] = []
        params: list[float] = []
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


def index_facets(con: SqliteLike, path: str, segs: tuple[str, ...], limit: int
                 ) -> Facets | None:
    """Facets of a JSON path over every task, read from its expression index (``index add
    PATH``); None without that index, or when resolving the ambiguous rows would cost more
    than a scan. The one algorithm for this case: the store runs it too.

    ``json_extract`` (the indexed expression) drops the JSON type: NULL is null or missing,
    1/0 may be true/false, "[..."/"{..." may be an array/object; those rows are re-read typed.
    The index orders NULL < numbers < text: each part is read as its own index range.
    """
    from ..query.paths import index_name_for, json_path_literal, sqlstr
    from .facet_summary import (
        Facets,
        canonical_number,
        decode,
        sqlite_typed_expr,
        summarise,
    )

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
    amb_text = [(v, n) for v, n in texts if isinstance(v, str) and v[:1] in ("[", "{")]
    total = con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    if nulls + sum(n for _, n in bits + amb_text) > max(RESOLVE_MIN, total * RESOLVE_SHARE):
        return None  # cheaper to scan
    resolved: list[tuple[Any, int]] = []
    typed = sqlite_typed_expr(segs)
    if nulls:
        resolved.extend((decode(v), n) for v, n in con.execute(
            f"SELECT {typed} AS v, count(*) FROM tasks WHERE {ex} IS NULL GROUP BY v"))
    keys_in = [v for v, _ in bits + amb_text]
    if keys_in:
        resolved.extend((decode(v), n) for v, n in con.execute(
            f"SELECT {typed} AS v, count(*) FROM tasks WHERE {ex} IN "
            f"({', '.join('?' * len(keys_in))}) GROUP BY v", keys_in))
    rest = [(v, n) for v, n in texts if not (isinstance(v, str) and v[:1] in ("[", "{"))]
    con.execute(f"CREATE TEMP TABLE facet_numbers AS SELECT min({ex}) AS x, count(*) AS n "
                f"FROM tasks WHERE {ex} < '' GROUP BY {ex}")
    try:
        con.executemany("DELETE FROM facet_numbers WHERE x = ? AND typeof(x) = 'integer'",
                        [(v,) for v, _ in bits])  # re-read typed above
        if any(type(v) is list for v, _ in resolved):  # elements may be numbers: Python
            nums = [(x, n) for x, n in con.execute("SELECT x, n FROM facet_numbers")]
            f = summarise(path, nums + rest + resolved, limit)
        else:
            merged: dict[int | float, int] = {}
            for v, n in resolved:
                if type(v) in (int, float):
                    key = canonical_number(v)
                    merged[key] = merged.get(key, 0) + n
                else:
                    rest.append((v, n))
            con.executemany("INSERT INTO facet_numbers VALUES (?, ?)", merged.items())
            f = summarise(path, rest, limit, _number_totals(con, limit))
    finally:
        con.execute("DROP TABLE temp.facet_numbers")
    return Facets(**{**f.__dict__, "used_index": True})
