"""Filter IR -> SQLAlchemy boolean expression over ``schema.tasks`` (SQLite and PostgreSQL).

MongoDB semantics (spec §4.7), compiled, never evaluated row by row in Python:

* A path yields a set of *candidate* values. Walking an object takes the key; walking an array
  applies the rest of the path to every element that is an object, and a segment that is a
  non-negative integer also selects that index. A leaf array contributes itself and its
  elements. Absent fields produce *missing* markers, which only ``null``-matching predicates
  care about (``{p: null}``, ``$in: [null]``, ``$gte/$lte: null``). This is a port of MongoDB's
  ``BSONElementIterator``; each possible route through the document is compiled to SQL
  (``json_each`` / ``jsonb_array_elements`` for the array steps).
* Leaf predicates are type-bracketed (numbers with numbers, strings with strings in code-point
  order, booleans with booleans; booleans are not numbers), objects compare with unordered keys,
  arrays in order.
* Negations are ``NOT`` of the positive predicate (so they match missing paths).
* JSON paths reach SQL as literals (``json_extract(args, '$."lr"')``, ``(args -> 'lr')``), so
  expression indexes built by :mod:`labtasker_tui.query.indexes` serve the plain case; all
  values are bound parameters.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex as _regex
from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Numeric,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.sql.elements import ColumnElement, Grouping

from labtasker_tui.query import ir
from labtasker_tui.query.errors import FilterError
from labtasker_tui.query.paths import json_path_literal
from labtasker_tui.query.paths import sqlite_key_safe as _sqlite_key_safe
from labtasker_tui.query.paths import sqlstr as _sqlstr
from labtasker_tui.query.sqlite_udf import register_sqlite_functions
from labtasker_tui.schema import tasks

__all__ = [
    "ir_to_sql",
    "order_by",
    "register_sqlite_functions",
    "json_path_literal",
    "pg_key_literal",
    "regex_to_postgres",
    "JSON_COLUMNS",
    "SCALAR_FIELDS",
]

#: JSON document columns; the first three always hold objects (data model §1.1).
JSON_COLUMNS = ("args", "metadata", "summary", "cmd")
_OBJECT_COLUMNS = frozenset({"args", "metadata", "summary"})
#: Task field name -> (column name, kind). ``_id`` is the Mongo name of task_id.
SCALAR_FIELDS: dict[str, tuple[str, str]] = {
    "task_id": ("task_id", "string"),
    "_id": ("task_id", "string"),
    "queue_id": ("queue", "string"),
    "status": ("status", "string"),
    "task_name": ("task_name", "string"),
    "worker_id": ("worker_id", "string"),
    "created_at": ("created_at", "date"),
    "start_time": ("start_time", "date"),
    "last_heartbeat": ("last_heartbeat", "date"),
    "last_modified": ("last_modified", "date"),
    "heartbeat_timeout": ("heartbeat_timeout", "double"),
    "task_timeout": ("task_timeout", "int"),
    "max_retries": ("max_retries", "int"),
    "retries": ("retries", "int"),
    "priority": ("priority", "int"),
}

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# BSON canonical type order (spec §3.4)
R_MISSING, R_NULL, R_NUM, R_STR, R_OBJ, R_ARR, R_BOOL, R_DATE = 0, 5, 10, 15, 20, 25, 40, 45
_KIND_RANK = {"string": R_STR, "int": R_NUM, "double": R_NUM, "date": R_DATE}

Cond = ColumnElement[bool]


def _lit(s: str) -> ColumnElement[Any]:
    """A SQL string literal (rendered inline: part of the statement, hence of the cache key)."""
    return literal_column(_sqlstr(s))


def pg_key_literal(key: str) -> str:
    return _sqlstr(key)


#: Terms per AND/OR list before it is split into parenthesised groups: SQLite parses a flat
#: ``a OR b OR ...`` left-deep and refuses an expression tree deeper than 1000.
_FANOUT = 32


class _Group(Grouping):
    """Parentheses that ``and_``/``or_`` keep (a plain Grouping exposes its inner operator,
    so they flatten it back into one long list)."""

    inherit_cache = True
    operator = None


def _balanced(op: Callable[..., Any], items: tuple[Any, ...]) -> Any:
    """``op(*items)`` as a tree of parenthesised groups of at most ``_FANOUT`` terms."""
    while len(items) > _FANOUT:
        items = tuple(_Group(op(*items[i:i + _FANOUT])) if len(items[i:i + _FANOUT]) > 1
                      else items[i] for i in range(0, len(items), _FANOUT))
    return op(*items)


def _and(*items: Any) -> Any:
    items = tuple(i for i in items if i is not None and not _is_true(i))
    if any(_is_false(i) for i in items):
        return false()
    if not items:
        return true()
    return items[0] if len(items) == 1 else _balanced(and_, items)


def _or(*items: Any) -> Any:
    items = tuple(i for i in items if i is not None and not _is_false(i))
    if any(_is_true(i) for i in items):
        return true()
    if not items:
        return false()
    return items[0] if len(items) == 1 else _balanced(or_, items)


def _is_true(x: Any) -> bool:
    return x is True or type(x).__name__ == "True_"


def _is_false(x: Any) -> bool:
    return x is False or type(x).__name__ == "False_"


def _not(x: Any) -> Any:
    """NOT of a predicate, with SQL NULL (unknown) counted as false first."""
    if _is_true(x):
        return false()
    if _is_false(x):
        return true()
    return not_(func.coalesce(x, false(), type_=Boolean))


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _is_inf(v: Any) -> bool:
    return isinstance(v, float) and math.isinf(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ops(op: str, a: Any, b: Any) -> Any:
    if op == "eq":
        return a == b
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    raise ValueError(op)


# =============================================================================================
# Candidates: a value somewhere in a row (dialect-specific)
# =============================================================================================


class _Cand:
    """A JSON value in the row. ``kind`` is ``json`` or a scalar column kind."""

    is_json = True

    def type_is(self, *names: str) -> Any:  # names: null true false number string object array
        raise NotImplementedError

    def present(self) -> Any:
        raise NotImplementedError

    def missing(self) -> Any:
        raise NotImplementedError


# -- SQLite -----------------------------------------------------------------------------------

_SQ_TYPES = {
    "null": ("null",), "true": ("true",), "false": ("false",), "number": ("integer", "real"),
    "string": ("text",), "object": ("object",), "array": ("array",),
    "bool": ("true", "false"),
}


class _SqCand(_Cand):
    """SQLite: ``type_expr``/``value_expr`` plus a (base, path) to reach inside containers."""

    def __init__(self, type_expr: Any, value_expr: Any, base: Any, path: str) -> None:
        self.type_expr = type_expr
        self.value_expr = value_expr
        self.base = base
        self.path = path

    @classmethod
    def at(cls, base: Any, path: str) -> _SqCand:
        p = _lit(path)
        return cls(func.json_type(base, p), func.json_extract(base, p), base, path)

    @classmethod
    def element(cls, alias: Any) -> _SqCand:
        t, v = alias.c.type, alias.c.value
        base = case((t.in_([_lit("object"), _lit("array")]), v), else_=null())
        return cls(t, v, base, "$")

    def type_is(self, *names: str) -> Any:
        sq = [t for n in names for t in _SQ_TYPES[n]]
        if len(sq) == 1:
            return self.type_expr == _lit(sq[0])
        return self.type_expr.in_([_lit(t) for t in sq])

    def present(self) -> Any:
        return self.type_expr.is_not(None)

    def missing(self) -> Any:
        return self.type_expr.is_(None)

    def key(self, k: str) -> _SqCand:
        if _sqlite_key_safe(k):
            return _SqCand.at(self.base, self.path + f'."{k}"')
        # keys SQLite cannot spell in a path: look them up with json_each (no index, rare)
        je = func.json_each(self.base, _lit(self.path)).table_valued("key", "value", "type")
        sel = select(je.c.type).where(je.c.key == literal(k)).limit(1).scalar_subquery()
        val = select(je.c.value).where(je.c.key == literal(k)).limit(1).scalar_subquery()
        base = select(case((je.c.type.in_([_lit("object"), _lit("array")]), je.c.value),
                           else_=null())).where(je.c.key == literal(k)).limit(1).scalar_subquery()
        return _SqCand(sel, val, base, "$")

    def index(self, i: int) -> _SqCand:
        return _SqCand.at(self.base, self.path + f"[{i}]")

    def elements(self) -> tuple[Any, _SqCand]:
        alias = func.json_each(self.base, _lit(self.path)).table_valued("key", "value", "type")
        return alias, _SqCand.element(alias)

    def array_length(self) -> Any:
        return func.json_array_length(self.base, _lit(self.path))

    def key_count(self) -> Any:
        je = func.json_each(self.base, _lit(self.path)).table_valued("key", "value", "type")
        return select(func.count()).select_from(je).scalar_subquery()

    def text(self) -> Any:
        return self.value_expr


# -- PostgreSQL -------------------------------------------------------------------------------

_PG_TYPES = {
    "null": "null", "number": "number", "string": "string", "object": "object",
    "array": "array",
}


def _jsonb_lit(text: str) -> Any:
    return literal_column(_sqlstr(text) + "::jsonb", type_=JSONB)


def _jsonb_param(value: Any) -> Any:
    return cast(literal(json.dumps(value, ensure_ascii=False), Text), JSONB)


class _PgCand(_Cand):
    """PostgreSQL: one ``jsonb`` expression."""

    def __init__(self, x: Any) -> None:
        self.x = x

    @property
    def type_expr(self) -> Any:
        return func.jsonb_typeof(self.x)

    def type_is(self, *names: str) -> Any:
        conds = []
        plain = [_PG_TYPES[n] for n in names if n in _PG_TYPES]
        if "bool" in names or ("true" in names and "false" in names):
            plain.append("boolean")
        elif "true" in names:
            conds.append(self.x == _jsonb_lit("true"))
        elif "false" in names:
            conds.append(self.x == _jsonb_lit("false"))
        if len(plain) == 1:
            conds.append(self.type_expr == _lit(plain[0]))
        elif plain:
            conds.append(self.type_expr.in_([_lit(t) for t in plain]))
        return _or(*conds)

    def present(self) -> Any:
        return self.x.is_not(None)

    def missing(self) -> Any:
        return self.x.is_(None)

    def key(self, k: str) -> _PgCand:
        return _PgCand(self.x.op("->", return_type=JSONB)(_lit(k)))

    def index(self, i: int) -> _PgCand:
        return _PgCand(self.x.op("->", return_type=JSONB)(literal_column(str(i))))

    def guarded(self, typename: str) -> Any:
        return case((self.type_expr == _lit(typename), self.x), else_=null())

    def elements(self) -> tuple[Any, _PgCand]:
        arr = case((self.type_expr == _lit("array"), self.x), else_=_jsonb_lit("[]"))
        alias = func.jsonb_array_elements(type_coerce(arr, JSONB)).table_valued("value")
        return alias, _PgCand(type_coerce(alias.c.value, JSONB))

    def array_length(self) -> Any:
        return func.jsonb_array_length(self.guarded("array"))

    def text(self) -> Any:
        return self.x.op("#>>", return_type=Text)(_lit("{}"))

    def numeric(self) -> Any:
        return cast(self.guarded("number"), Numeric)


# -- top-level scalar columns -----------------------------------------------------------------


class _ColCand(_Cand):
    """A plain column of ``tasks`` (NULL behaves as a JSON null, never as missing)."""

    is_json = False

    def __init__(self, col: Any, kind: str) -> None:
        self.col = col
        self.kind = kind

    def type_is(self, *names: str) -> Any:
        conds = []
        if "null" in names:
            conds.append(self.col.is_(None))
        if ("string" in names and self.kind == "string") or (
                "number" in names and self.kind in ("int", "double")):
            conds.append(self.col.is_not(None))
        return _or(*conds)

    def present(self) -> Any:
        return true()

    def missing(self) -> Any:
        return false()


class _ArrayAsObject(_Cand):
    """An array seen as a document whose keys are "0", "1", ... (root of $elemMatch)."""

    def __init__(self, cand: _Cand, pg: bool) -> None:
        self.cand = cand
        self.pg = pg

    def key(self, k: str) -> _Cand:
        if k.isdigit() and k.isascii() and len(k) < 10:
            return self.cand.index(int(k))
        if self.pg:
            return _PgCand(cast(null(), JSONB))
        return _SqCand(null(), null(), null(), "$")


# =============================================================================================
# Compiler
# =============================================================================================


@dataclass
class _Route:
    pre: list[Any] = field(default_factory=list)  # conditions outside any EXISTS
    aliases: list[Any] = field(default_factory=list)
    post: list[Any] = field(default_factory=list)  # conditions inside EXISTS
    deviates: bool = False  # left the pure object-key route (index hint: that path is NULL)

    def add(self, cond: Any) -> _Route:
        r = _Route(list(self.pre), list(self.aliases), list(self.post), self.deviates)
        (r.post if r.aliases else r.pre).append(cond)
        return r

    def join(self, alias: Any) -> _Route:
        return _Route(list(self.pre), [*self.aliases, alias], list(self.post), self.deviates)

    def deviate(self) -> _Route:
        return _Route(list(self.pre), list(self.aliases), list(self.post), True)

    def sql(self, leaf: Any) -> Any:
        if _is_false(leaf):
            return false()
        if not self.aliases:
            return _and(*self.pre, leaf)
        inner = select(literal_column("1")).select_from(_chain(self.aliases)).where(
            _and(*self.post, leaf))
        return _and(*self.pre, inner.exists())


def _chain(aliases: Sequence[Any]) -> Any:
    """``a1 JOIN a2 ON true ...``: later table functions read earlier ones (lateral)."""
    return functools.reduce(lambda a, b: a.join(b, true()), aliases)


@dataclass
class _Leaf:
    route: _Route
    cand: _Cand
    flag: str  # "K": reached by a key (a leaf array is traversed), "O": by an array index
    eoo: bool = False  # a missing marker (the cand is meaningless)
    expanded: bool = False  # an element of a leaf array


class _Compiler:
    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported dialect {dialect!r} (sqlite or postgresql)")
        self.dialect = dialect
        self.pg = dialect == "postgresql"

    # -- roots ------------------------------------------------------------------------------

    def json_root(self, col: str) -> _Cand:
        c = tasks.c[col]
        if self.pg:
            return _PgCand(type_coerce(c, JSONB))
        return _SqCand.at(c, "$")

    def index_hint(self, path: ir.Path) -> Any | None:
        """The expression an index on ``path`` is built on, when it is a plain object path."""
        if path[0] not in _OBJECT_COLUMNS or len(path) < 2:
            return None
        if self.pg:
            return index_expression(path, "postgresql")
        if not all(_sqlite_key_safe(s) for s in path[1:]):
            return None
        return index_expression(path, "sqlite")

    # -- routes -----------------------------------------------------------------------------

    def leaves(self, path: ir.Path, expand: bool, root: _Cand | None = None) -> list[_Leaf]:
        """Every candidate (and missing marker) of ``path``: one entry per route."""
        out: list[_Leaf] = []
        if root is not None:  # $elemMatch sub-document: the element is an object
            self._walk(root, path, 0, "K", _Route(), expand, out, known_object=True)
            return out
        head = path[0]
        if head in SCALAR_FIELDS:
            col, kind = SCALAR_FIELDS[head]
            if len(path) == 1:
                out.append(_Leaf(_Route(), _ColCand(tasks.c[col], kind), "O"))
            else:
                out.append(_Leaf(_Route(), _ColCand(tasks.c[col], kind), "K", eoo=True))
            return out
        if head not in JSON_COLUMNS:
            out.append(_Leaf(_Route(), _ColCand(null(), "string"), "K", eoo=True))
            return out
        cand = self.json_root(head)
        if len(path) == 1:
            self._leaf(cand, "K", _Route(), expand, out)
            return out
        if head not in _OBJECT_COLUMNS:  # cmd may be a string: then the rest is missing
            out.append(_Leaf(_Route().add(cand.type_is("null", "true", "false", "number",
                                                       "string")).deviate(), cand, "K", eoo=True))
        self._walk(cand, path, 1, "K", _Route(), expand, out,
                   known_object=head in _OBJECT_COLUMNS)
        return out

    def _leaf(self, cand: _Cand, flag: str, route: _Route, expand: bool, out: list) -> None:
        out.append(_Leaf(route, cand, flag))
        if expand and flag == "K":
            alias, elem = cand.elements()
            r = route.add(cand.type_is("array"))
            r.deviates = route.deviates
            out.append(_Leaf(r.join(alias), elem, "O", expanded=True))

    def _walk(self, cand: _Cand, path: ir.Path, i: int, flag: str, route: _Route, expand: bool,
              out: list, known_object: bool = False) -> None:
        if i == len(path):
            self._leaf(cand, flag, route, expand, out)
            return
        seg = path[i]
        last = i + 1 == len(path)
        # object: the key
        r = route if known_object else route.add(cand.type_is("object"))
        child = cand.key(seg)
        out.append(_Leaf(r.add(child.missing()).deviate(), child, "K", eoo=True))
        if not last:
            # a scalar reached by a key with path left over is a missing marker
            out.append(_Leaf(r.add(child.type_is("null", "true", "false", "number", "string"))
                             .deviate(), child, "K", eoo=True))
        self._walk(child, path, i + 1, "K", r, expand, out)
        if known_object:
            return
        # array: every element that is an object, then the key
        alias, elem = cand.elements()
        r = route.add(cand.type_is("array")).deviate().join(alias).add(elem.type_is("object"))
        echild = elem.key(seg)
        out.append(_Leaf(r.add(echild.missing()), echild, "K", eoo=True))
        if not last:
            out.append(_Leaf(r.add(echild.type_is("null", "true", "false", "number", "string")),
                             echild, "K", eoo=True))
        self._walk(echild, path, i + 1, "K", r, expand, out)
        # array: a numeric segment is also an index
        if seg.isdigit() and seg.isascii() and len(seg) < 10:
            r = route.add(cand.type_is("array")).deviate()
            self._walk(cand.index(int(seg)), path, i + 1, "O", r, expand, out)

    def path_pred(self, path: ir.Path, leaf_fn: Callable[[_Cand], Any], *, eoo: bool = False,
                  expand: bool = True, root: _Cand | None = None) -> Any:
        """Some candidate of ``path`` satisfies ``leaf_fn`` (or is missing, when ``eoo``).

        The routes through the document form a tree (object key / array elements / array
        index at each step) that SQL evaluates with short cuts on the container types. The
        plain object route comes first, on its own, so an index on its expression serves it;
        every other route implies that expression is NULL.
        """
        if root is not None:  # $elemMatch sub-document
            return self._tree(root, path, 0, "K", leaf_fn, eoo, expand, known_object=True)
        head = path[0]
        if head in SCALAR_FIELDS:
            col, kind = SCALAR_FIELDS[head]
            if len(path) > 1:
                return true() if eoo else false()
            return leaf_fn(_ColCand(tasks.c[col], kind))
        if head not in JSON_COLUMNS:
            return true() if eoo else false()
        cand = self.json_root(head)
        if len(path) == 1:
            return self._tree(cand, path, 1, "K", leaf_fn, eoo, expand)
        known = head in _OBJECT_COLUMNS
        parts = []
        if not known and eoo:  # cmd may be a string: then the rest of the path is missing
            parts.append(cand.type_is("null", "true", "false", "number", "string"))
        hint = self.index_hint(path)
        if hint is None:
            parts.append(self._tree(cand, path, 1, "K", leaf_fn, eoo, expand, known))
            return _or(*parts)
        plain = cand
        for seg in path[1:]:
            plain = cand = plain.key(seg)
        parts.append(leaf_fn(plain))
        if expand:
            parts.append(_and(self._expansion(plain, leaf_fn), self._array_range(hint)))
        rest = self._tree(self.json_root(head), path, 1, "K", leaf_fn, eoo, expand, known,
                          plain_route=True)
        parts.append(_and(hint.is_(None), rest))
        return _or(*parts)

    def _expansion(self, cand: _Cand, leaf_fn: Callable[[_Cand], Any]) -> Any:
        """``cand`` is an array with an element satisfying ``leaf_fn``."""
        alias, elem = cand.elements()
        inner = leaf_fn(elem)
        if _is_false(inner):
            return false()
        return _and(cand.type_is("array"),
                    select(literal_column("1")).select_from(alias).where(inner).exists())

    def _tree(self, cand: _Cand, path: ir.Path, i: int, flag: str,
              leaf_fn: Callable[[_Cand], Any], eoo: bool, expand: bool,
              known_object: bool = False, plain_route: bool = False) -> Any:
        """The routes from ``cand`` (reached by a key "K" or an index "O") for path[i:].

        ``plain_route``: ``cand`` lies on the all-object-keys route, whose leaf the caller
        handles itself (so it is left out here).
        """
        if i == len(path):
            if plain_route:
                return false()
            parts = [leaf_fn(cand)]
            if expand and flag == "K":
                parts.append(self._expansion(cand, leaf_fn))
            return _or(*parts)
        seg = path[i]
        last = i + 1 == len(path)
        scalars = ("null", "true", "false", "number", "string")

        def keyed(child: _Cand, plain: bool) -> Any:
            sub = [child.missing()] if eoo else []
            if eoo and not last:  # a scalar with path left over is a missing marker
                sub.append(child.type_is(*scalars))
            sub.append(self._tree(child, path, i + 1, "K", leaf_fn, eoo, expand,
                                  plain_route=plain))
            return _or(*sub)

        by_key = keyed(cand.key(seg), plain_route)
        if known_object:
            return by_key
        parts = [_and(cand.type_is("object"), by_key)]
        # an array: every element that is an object, then the key
        alias, elem = cand.elements()
        inner = _and(elem.type_is("object"), keyed(elem.key(seg), False))
        if not _is_false(inner):
            parts.append(_and(cand.type_is("array"), select(literal_column("1"))
                              .select_from(alias).where(inner).exists()))
        # an array: a numeric segment is also an index
        if seg.isdigit() and seg.isascii() and len(seg) < 10:
            sub = self._tree(cand.index(int(seg)), path, i + 1, "O", leaf_fn, eoo, expand)
            parts.append(_and(cand.type_is("array"), sub))
        return _or(*parts)

    def _array_range(self, x: Any) -> Any:
        """A condition implied by "x is a JSON array" that an index on x can serve."""
        if self.pg:
            return and_(x > _jsonb_lit("true"), x < _jsonb_lit("{}"))
        return and_(x >= _lit("["), x < _lit("\\"))

    # -- filter nodes -----------------------------------------------------------------------

    def compile(self, node: ir.IR, root: _Cand | None = None) -> Any:
        if isinstance(node, ir.Const):
            return true() if node.value else false()
        if isinstance(node, ir.And):
            return _and(*(self.compile(i, root) for i in node.items))
        if isinstance(node, ir.Or):
            return _or(*(self.compile(i, root) for i in _merge_equalities(node.items)))
        if isinstance(node, ir.Nor):
            return _not(_or(*(self.compile(i, root) for i in _merge_equalities(node.items))))
        if isinstance(node, ir.Not):
            return _not(self.compile(node.item, root))
        if isinstance(node, ir.Expr):
            return _ExprCompiler(self).top(node.node)
        path = node.path
        if isinstance(node, ir.Cmp):
            if node.value is None and node.op in ("gt", "lt"):
                return false()
            return self.path_pred(path, lambda c: self.cmp(c, node.op, node.value),
                                  eoo=node.value is None, root=root)
        if isinstance(node, ir.In):
            has_null = any(v is None for v in node.values)
            return self.path_pred(path, lambda c: self.in_(c, node.values), eoo=has_null,
                                  root=root)
        if isinstance(node, ir.Exists):
            return self.path_pred(path, lambda c: c.present(), expand=False, root=root)
        if isinstance(node, ir.Regex):
            return self.path_pred(path, lambda c: self.regex(c, node.pattern, node.flags),
                                  root=root)
        if isinstance(node, ir.Type):
            return self.path_pred(path, lambda c: self.type_(c, node.types), root=root)
        if isinstance(node, ir.Size):
            return self.path_pred(path, lambda c: self.size(c, node.n), expand=False, root=root)
        if isinstance(node, ir.ElemMatch):
            return self.path_pred(path, lambda c: self.single(node, c), expand=False, root=root)
        if isinstance(node, ir.All):
            parts = []
            for v in node.values:
                if isinstance(v, ir.ElemMatch):
                    parts.append(self.compile(ir.ElemMatch(path, v.cond, v.value_form), root))
                elif isinstance(v, ir.Regex):
                    parts.append(self.compile(ir.Regex(path, v.pattern, v.flags), root))
                else:
                    parts.append(self.compile(ir.Cmp(path, "eq", v), root))
            return _and(*parts)
        raise TypeError(f"unknown IR node {node!r}")

    # -- single-value predicates (matchesSingleElement) ---------------------------------------

    def single(self, node: ir.IR, c: _Cand) -> Any:
        if isinstance(node, ir.Const):
            return true() if node.value else false()
        if isinstance(node, ir.And):
            return _and(*(self.single(i, c) for i in node.items))
        if isinstance(node, ir.Or):
            return _or(*(self.single(i, c) for i in node.items))
        if isinstance(node, ir.Nor):
            return _not(_or(*(self.single(i, c) for i in node.items)))
        if isinstance(node, ir.Not):
            return _not(self.single(node.item, c))
        if isinstance(node, ir.Cmp):
            return self.cmp(c, node.op, node.value)
        if isinstance(node, ir.In):
            return self.in_(c, node.values)
        if isinstance(node, ir.Exists):
            return true()
        if isinstance(node, ir.Regex):
            return self.regex(c, node.pattern, node.flags)
        if isinstance(node, ir.Type):
            return self.type_(c, node.types)
        if isinstance(node, ir.Size):
            return self.size(c, node.n)
        if isinstance(node, ir.All):
            return _and(*(self.single(v, c) if isinstance(v, (ir.ElemMatch, ir.Regex))
                          else self.cmp(c, "eq", v) for v in node.values))
        if isinstance(node, ir.ElemMatch):
            if not c.is_json:
                return false()
            alias, elem = c.elements()
            if node.value_form:
                inner = self.single(node.cond, elem)
            else:
                # the sub-filter runs on object elements, and on array elements seen as
                # objects keyed "0", "1", ... (MongoDB's isABSONObj)
                inner = _or(_and(elem.type_is("object"), self.compile(node.cond, root=elem)),
                            _and(elem.type_is("array"),
                                 self.compile(node.cond, root=_ArrayAsObject(elem, self.pg))))
            if _is_false(inner):
                return false()
            sub = select(literal_column("1")).select_from(alias).where(inner).exists()
            return _and(c.type_is("array"), sub)
        if isinstance(node, ir.Expr):
            raise ValueError("$expr is only allowed at the top level")
        raise TypeError(f"unknown IR node {node!r}")

    def in_(self, c: _Cand, values: Sequence[Any]) -> Any:
        parts = []
        rest = values
        if len(values) > _BULK_IN:
            bulk, rest = self._bulk_in(c, values)
            parts += bulk
        for v in rest:
            if isinstance(v, ir.Regex):
                parts.append(self.regex(c, v.pattern, v.flags))
            else:
                parts.append(self.cmp(c, "eq", v))
        return _or(*parts)

    def _bulk_in(self, c: _Cand, values: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """Equality with many scalars as ``x IN (SELECT value FROM json_each(:list))``: one
        bound JSON parameter and one hash lookup per row, whatever the length of the list.
        Returns (conditions, the values left to compare one by one)."""
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if _is_number(v) and not _is_nan(v) and not _is_inf(v)
                   and (not isinstance(v, int) or _INT64[0] <= v <= _INT64[1])]
        taken = {id(v) for v in strings} | {id(v) for v in numbers}
        rest = [v for v in values if id(v) not in taken]
        parts: list[Any] = []
        if isinstance(c, _ColCand):
            if c.kind == "string" and strings:
                parts.append(c.col.in_(self._json_values(strings, text=True)))
            elif strings:
                rest += strings
            if c.kind in ("int", "double") and numbers:
                if self.pg:
                    parts.append(c.col.in_(select(cast(
                        self._json_table(numbers, text=True).c.value, Numeric))))
                else:
                    parts.append(c.col.in_(self._json_values(numbers)))
            elif numbers:
                rest += numbers
            return parts, rest
        if self.pg:
            scalars = strings + numbers
            if scalars:
                parts.append(c.x.in_(self._json_values(scalars)))
            return parts, rest
        if strings:
            parts.append(_and(c.value_expr.in_(self._json_values(strings)),
                              c.type_is("string")))
        if numbers:
            parts.append(_and(c.value_expr.in_(self._json_values(numbers)),
                              c.type_is("number")))
        return parts, rest

    def _json_table(self, values: list[Any], *, text: bool = False) -> Any:
        doc = literal(json.dumps(values, ensure_ascii=False), Text)
        if not self.pg:
            return func.json_each(doc).table_valued("value")
        fn = func.jsonb_array_elements_text if text else func.jsonb_array_elements
        return fn(cast(doc, JSONB)).table_valued("value")

    def _json_values(self, values: list[Any], *, text: bool = False) -> Any:
        table = self._json_table(values, text=text)
        if self.pg and not text:
            return select(type_coerce(table.c.value, JSONB))
        return select(table.c.value)

    def cmp(self, c: _Cand, op: str, v: Any) -> Any:
        """ComparisonMatchExpression on one candidate (type-bracketed)."""
        if isinstance(c, _ColCand):
            return self._col_cmp(c, op, v)
        if v is None:
            return c.type_is("null") if op in ("eq", "gte", "lte") else false()
        if isinstance(v, bool):
            return self._bool_cmp(c, op, v)
        if _is_number(v):
            return self._num_cmp(c, op, v)
        if isinstance(v, str):
            if self.pg:
                if op == "eq":
                    return c.x == _jsonb_param(v)
                return _and(c.type_is("string"), _ops(op, c.text().collate("C"), literal(v)))
            if op == "eq":
                return _and(c.value_expr == literal(v), c.type_is("string"))
            return _and(c.type_is("string"), _ops(op, c.value_expr, literal(v)))
        if isinstance(v, dt.datetime):
            return false()  # JSON holds no dates
        if isinstance(v, (list, dict)):
            if op == "eq":
                return self._eq_struct(c, v)
            if _has_nonfinite(v):
                return false()
            kind = "array" if isinstance(v, list) else "object"
            if not self.pg:  # exact BSON order through the registered function
                text = json.dumps(v, default=_date_marker)
                cmp = func.lt_bson_cmp(c.value_expr, literal(text), type_=Integer)
                return _and(c.type_is(kind), _ops(op, cmp, 0))
            if kind == "array":
                return self._array_order(c, op, v)
            if _has_date(v):
                return false()
            if not v:
                return {"gt": _and(c.type_is("object"), c.x != _jsonb_lit("{}")),
                        "gte": c.type_is("object"), "lt": false(),
                        "lte": self._eq_struct(c, v)}[op]
            # PostgreSQL: jsonb's own object order (approximates BSON's)
            return _and(c.type_is("object"), _ops(op, c.x, _jsonb_param(v)))
        raise TypeError(f"unsupported literal {v!r}")

    def _bool_cmp(self, c: _Cand, op: str, v: bool) -> Any:
        allowed = {b for b in (False, True) if {"eq": b == v, "gt": b > v, "gte": b >= v,
                                               "lt": b < v, "lte": b <= v}[op]}
        names = ["true" if b else "false" for b in allowed]
        if not names:
            return false()
        cond = c.type_is(*names)
        if not self.pg and len(names) == 1:  # an index on json_extract() can serve x = 1 / 0
            cond = _and(c.value_expr == (1 if names[0] == "true" else 0), cond)
        return cond

    def _num_cmp(self, c: _Cand, op: str, v: int | float) -> Any:
        if _is_nan(v):
            return false()
        if _is_inf(v):
            # no stored number is infinite: every number is below +inf and above -inf
            if (v > 0 and op in ("lt", "lte")) or (v < 0 and op in ("gt", "gte")):
                return c.type_is("number")
            return false()
        if self.pg:
            x = c.x
            if op == "eq":
                return x == _jsonb_param(v)
            cond = _and(c.type_is("number"), _ops(op, x, _jsonb_param(v)))
            if op in ("gt", "gte"):
                cond = _and(cond, x < _jsonb_lit("false"))  # numbers sort below booleans
            return cond
        bound = v
        if isinstance(v, int) and not _INT64[0] <= v <= _INT64[1]:
            bound = float(v)  # beyond what SQLite stores: exact enough against int64
        x = c.value_expr
        cond = _ops(op, x, literal(bound))
        if op in ("gt", "gte"):
            cond = and_(cond, x < _lit(""))  # numbers sort below all text: bounds the range
        return _and(cond, c.type_is("number"))

    def _eq_struct(self, c: _Cand, v: Any) -> Any:
        """Deep equality with a literal: numbers numerically, objects with unordered keys."""
        if _has_date(v) or _has_nonfinite(v):
            return false()  # JSON holds neither dates nor NaN/Infinity
        if self.pg:
            return c.x == _jsonb_param(v)
        if v is None:
            return c.type_is("null")
        if isinstance(v, bool):
            return c.type_is("true" if v else "false")
        if _is_number(v):
            if _is_nan(v) or _is_inf(v):
                return false()
            return self._num_cmp(c, "eq", v)
        if isinstance(v, str):
            return _and(c.value_expr == literal(v), c.type_is("string"))
        if isinstance(v, dt.datetime):
            return false()
        if isinstance(v, list):
            parts = [c.type_is("array"), c.array_length() == len(v)]
            parts += [self._eq_struct(c.index(i), x) for i, x in enumerate(v)]
            return _and(*parts)
        if isinstance(v, dict):
            parts = [c.type_is("object"), c.key_count() == len(v)]
            parts += [self._eq_struct(c.key(k), x) for k, x in v.items()]
            return _and(*parts)
        raise TypeError(f"unsupported literal {v!r}")

    def _array_order(self, c: _Cand, op: str, v: list) -> Any:
        """BSON order of an array candidate against an array literal (lexicographic)."""
        if op in ("lte", "gte"):
            return _or(self._array_order(c, op[:2], v), self._eq_struct(c, v))
        # c > v  <=>  exists i: c[:i] == v[:i] and (c[i] > v[i] or (i == len(v) and len(c) > i))
        parts = []
        for i in range(len(v) + 1):
            prefix = [self._eq_struct(c.index(j), v[j]) for j in range(i)]
            if i == len(v):
                tail = c.array_length() > i if op == "gt" else false()
            else:
                tail = self._bson_elem_order(c.index(i), op, v[i], c.array_length() > i)
            parts.append(_and(*prefix, tail))
        return _and(c.type_is("array"), _or(*parts))

    def _bson_elem_order(self, e: _Cand, op: str, v: Any, exists: Any) -> Any:
        """Element ``e`` (which may not exist: then it sorts first) vs literal ``v``, with the
        cross-type BSON order."""
        rank_v = _literal_rank(v)
        lower = [n for n, r in _JSON_RANKS.items() if r < rank_v]
        higher = [n for n, r in _JSON_RANKS.items() if r > rank_v]
        if op == "gt":
            cross = e.type_is(*higher) if higher else false()
            same = self.cmp(e, "gt", v) if not isinstance(v, (list, dict)) or v == [] or v == {} \
                else false()
            return _and(exists, _or(cross, same))
        cross = e.type_is(*lower) if lower else false()
        same = self.cmp(e, "lt", v) if not isinstance(v, (list, dict)) or v == [] or v == {} \
            else false()
        return _or(_not(exists), cross, same)

    def regex(self, c: _Cand, pattern: str, flags: str) -> Any:
        if isinstance(c, _ColCand):
            if c.kind != "string":
                return false()
            text, guard = c.col, c.col.is_not(None)
        elif self.pg:
            text, guard = c.text(), c.type_is("string")
        else:
            text, guard = c.value_expr, c.type_is("string")
        if self.pg:
            return _and(guard, text.op("~", return_type=Boolean)(
                literal(regex_to_postgres(pattern, flags))))
        return _and(guard, func.lt_regexp(literal(pattern), _lit(flags), text, type_=Boolean)
                    == 1)

    def size(self, c: _Cand, n: int) -> Any:
        if not c.is_json:
            return false()
        return _and(c.type_is("array"), c.array_length() == n)

    def type_(self, c: _Cand, types: frozenset[str]) -> Any:
        if isinstance(c, _ColCand):
            return self._col_type(c, types)
        parts = []
        simple = {"string": "string", "object": "object", "array": "array", "bool": "bool",
                  "null": "null"}
        names = [simple[t] for t in types if t in simple]
        if names:
            parts.append(c.type_is(*names))
        if {"int", "long", "double"} <= types:
            parts.append(c.type_is("number"))
        else:
            for t in ("int", "long", "double") if types & {"int", "long", "double"} else ():
                if t in types:
                    parts.append(self._number_kind(c, t))
        return _or(*parts)

    def _number_kind(self, c: _Cand, t: str) -> Any:
        if self.pg:
            is_double = c.text().op("~", return_type=Boolean)(literal_column("'[.eE]'"))
            if t == "double":
                return _and(c.type_is("number"), is_double)
            in32 = c.numeric().between(*_INT32)
            return _and(c.type_is("number"), _not(is_double), in32 if t == "int" else _not(in32))
        if t == "double":
            return c.type_expr == _lit("real")
        in32 = c.value_expr.between(*_INT32)
        return _and(c.type_expr == _lit("integer"), in32 if t == "int" else _not(in32))

    # -- top-level scalar columns -------------------------------------------------------------

    def _col_cmp(self, c: _ColCand, op: str, v: Any) -> Any:
        col, kind = c.col, c.kind
        if v is None:
            return col.is_(None) if op in ("eq", "gte", "lte") else false()
        if kind == "string" and isinstance(v, str):
            if self.pg and op != "eq":
                return _ops(op, col.collate("C"), literal(v))
            return _ops(op, col, literal(v))
        if kind in ("int", "double") and _is_number(v):
            if _is_nan(v):
                return false()
            if _is_inf(v):
                if (v > 0 and op in ("lt", "lte")) or (v < 0 and op in ("gt", "gte")):
                    return col.is_not(None)
                return false()
            if self.pg:
                return _ops(op, col, cast(literal(repr(v) if isinstance(v, float) else str(v),
                                                  Text), Numeric))
            bound = float(v) if isinstance(v, int) and not _INT64[0] <= v <= _INT64[1] else v
            return _ops(op, col, literal(bound))
        if kind == "date" and isinstance(v, dt.datetime):
            return _ops(op, col, literal(v, col.type))
        return false()

    def _col_type(self, c: _ColCand, types: frozenset[str]) -> Any:
        col, kind = c.col, c.kind
        parts = []
        if "null" in types:
            parts.append(col.is_(None))
        if (kind == "string" and "string" in types) or (kind == "date" and "date" in types) or (
                kind == "double" and "double" in types):
            parts.append(col.is_not(None))
        if kind == "int":
            if "int" in types and "long" in types:
                parts.append(col.is_not(None))
            elif "int" in types:
                parts.append(col.between(*_INT32))
            elif "long" in types:
                parts.append(and_(col.is_not(None), not_(col.between(*_INT32))))
        return _or(*parts)


#: Longer ``$in`` lists compare their strings and numbers through one JSON parameter.
_BULK_IN = 16


def _merge_equalities(items: tuple[ir.IR, ...]) -> list[ir.IR]:
    """OR of equalities on one path -> one ``In`` (same meaning: some candidate equals some
    value), so ``a == 0 or a == 1 or ...`` compiles to one lookup instead of a term each."""
    by_path: dict[ir.Path, list[Any]] = {}
    out: list[Any] = []
    for item in items:
        values = None
        if isinstance(item, ir.Cmp) and item.op == "eq":
            values = (item.value,)
        elif isinstance(item, ir.In):
            values = item.values
        if values is None:
            out.append(item)
            continue
        if item.path not in by_path:
            by_path[item.path] = []
            out.append(item.path)  # placeholder: keeps the first position
        by_path[item.path].extend(values)
    merged: list[ir.IR] = []
    for entry in out:
        if isinstance(entry, tuple):
            vals = by_path[entry]
            merged.append(ir.Cmp(entry, "eq", vals[0]) if len(vals) == 1
                          else ir.In(entry, tuple(vals)))
        else:
            merged.append(entry)
    return merged


def _has_date(v: Any) -> bool:
    if isinstance(v, dt.datetime):
        return True
    if isinstance(v, list):
        return any(_has_date(x) for x in v)
    if isinstance(v, dict):
        return any(_has_date(x) for x in v.values())
    return False


def _has_nonfinite(v: Any) -> bool:
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(_has_nonfinite(x) for x in v)
    if isinstance(v, dict):
        return any(_has_nonfinite(x) for x in v.values())
    return False


_JSON_RANKS = {"null": R_NULL, "number": R_NUM, "string": R_STR, "object": R_OBJ,
               "array": R_ARR, "bool": R_BOOL}


def _literal_rank(v: Any) -> int:
    if v is None:
        return R_NULL
    if isinstance(v, bool):
        return R_BOOL
    if _is_number(v):
        return R_NUM
    if isinstance(v, str):
        return R_STR
    if isinstance(v, dict):
        return R_OBJ
    if isinstance(v, list):
        return R_ARR
    if isinstance(v, dt.datetime):
        return R_DATE
    raise TypeError(v)


# =============================================================================================
# $expr (aggregation semantics: BSON total order, arithmetic on numbers only)
# =============================================================================================


@dataclass
class _EV:
    """A typed SQL value. ``ranks``: the BSON type ranks it can take (compile-time)."""

    rank: Any
    ranks: frozenset[int]
    num: Any = None  # numbers (and 0/1 for booleans)
    fnum: Any = None  # PostgreSQL: float8 view of num
    dbl: Any = False  # PostgreSQL: is a double (arithmetic then runs in float8)
    text: Any = None
    date: Any = None
    json: Any = None
    err: Any = False  # evaluation raised (the row then does not match)
    truth: Any = None  # for boolean results


def _c(v: Any) -> Any:
    if v is True:
        return true()
    if v is False:
        return false()
    if isinstance(v, int):
        return literal_column(str(v), Integer)
    return v


def _case(*whens: tuple[Any, Any], else_: Any) -> Any:
    whens = tuple((_c(w), _c(t)) for w, t in whens if not _is_false(_c(w)))
    if not whens:
        return _c(else_)
    return case(*whens, else_=_c(else_))


class _ExprCompiler:
    def __init__(self, comp: _Compiler) -> None:
        self.comp = comp
        self.pg = comp.pg

    def top(self, node: ir.ExprNode) -> Any:
        ev = self.ev(node)
        return _and(_not(_c(ev.err)) if ev.err is not False else true(),
                    func.coalesce(self.truthy(ev), false(), type_=Boolean))

    def truthy(self, ev: _EV) -> Any:
        if ev.truth is not None:
            return ev.truth
        parts = [ev.rank.not_in([R_MISSING, R_NULL]) if not isinstance(ev.rank, int)
                 else _c(ev.rank not in (R_MISSING, R_NULL))]
        if R_NUM in ev.ranks or R_BOOL in ev.ranks:
            zero = ev.num == 0 if not self.pg or ev.fnum is None else (
                case((_c(ev.dbl), ev.fnum == 0), else_=ev.num == 0))
            parts.append(_not(_and(self._rank_in(ev, R_NUM, R_BOOL), zero)))
        return _and(*parts)

    def _rank_in(self, ev: _EV, *ranks: int) -> Any:
        if isinstance(ev.rank, int):
            return _c(ev.rank in ranks)
        return ev.rank.in_(list(ranks)) if len(ranks) > 1 else ev.rank == ranks[0]

    # -- operands ---------------------------------------------------------------------------

    def ev(self, node: ir.ExprNode) -> _EV:
        if isinstance(node, ir.EConst):
            return self.const(node.value)
        if isinstance(node, ir.EField):
            return self.field(node.path)
        op = node.op
        args = [self.ev(a) for a in node.args]
        if op in ("$add", "$multiply", "$subtract", "$divide", "$mod"):
            return self.arith(op, args)
        if op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"):
            return self.compare(op, args[0], args[1])
        if op in ("$and", "$or", "$not"):
            return self.logic(op, args)
        raise ValueError(f"unsupported $expr operator {op}")

    def const(self, v: Any) -> _EV:
        r = _literal_rank(v)
        ev = _EV(rank=r, ranks=frozenset({r}))
        if r == R_NUM:
            if self.pg:
                ev.num = cast(literal(repr(v) if isinstance(v, float) else str(v), Text),
                              Numeric)
                ev.fnum = literal(float(v), DOUBLE_PRECISION)
                ev.dbl = isinstance(v, float)
            else:
                ev.num = literal(float(v) if isinstance(v, int) and not
                                 _INT64[0] <= v <= _INT64[1] else v)
        elif r == R_BOOL:
            ev.num = _c(int(v))
        elif r == R_STR:
            ev.text = literal(v)
        elif r == R_DATE:
            ev.date = literal(v, tasks.c.created_at.type)
        elif r in (R_OBJ, R_ARR):
            ev.json = _jsonb_param(v) if self.pg else literal(
                json.dumps(v, separators=(",", ":")))
        return ev

    def field(self, path: ir.Path) -> _EV:
        head = path[0]
        if head in SCALAR_FIELDS:
            if len(path) > 1:
                return _EV(rank=R_MISSING, ranks=frozenset({R_MISSING}))
            col_name, kind = SCALAR_FIELDS[head]
            col = tasks.c[col_name]
            r = _KIND_RANK[kind]
            ev = _EV(rank=_case((col.is_(None), R_NULL), else_=r), ranks=frozenset({R_NULL, r}))
            if kind in ("int", "double"):
                ev.num = col
                if self.pg:
                    ev.num = cast(col, Numeric)
                    ev.fnum = cast(col, DOUBLE_PRECISION)
                    ev.dbl = kind == "double"
            elif kind == "string":
                ev.text = col
            else:
                ev.date = col
            return ev
        if head not in JSON_COLUMNS:
            return _EV(rank=R_MISSING, ranks=frozenset({R_MISSING}))
        root = cand = self.comp.json_root(head)
        through_array = []
        if head not in _OBJECT_COLUMNS and len(path) > 1:
            through_array.append(cand.type_is("array"))
        for seg in path[1:-1]:
            cand = cand.key(seg)
            through_array.append(cand.type_is("array"))
        if len(path) > 1:
            cand = cand.key(path[-1])
        leaf_rank = self._json_rank(cand)
        rank = _case(*((cond, R_ARR) for cond in through_array), else_=leaf_rank) \
            if through_array else leaf_rank
        ev = _EV(rank=rank, ranks=frozenset({R_MISSING, R_NULL, R_NUM, R_STR, R_OBJ, R_ARR,
                                              R_BOOL}))
        if self.pg:
            ev.num = case((cand.type_is("number"), cand.numeric()),
                          (cand.type_is("true"), literal(1, Numeric)), else_=literal(0, Numeric))
            ev.fnum = cast(ev.num, DOUBLE_PRECISION)
            ev.dbl = _and(cand.type_is("number"),
                          cand.text().op("~", return_type=Boolean)(literal_column("'[.eE]'")))
            ev.text = cand.text()
            leaf_json = cand.x
        else:
            ev.num = cand.value_expr
            ev.text = cand.value_expr
            leaf_json = case((cand.type_is("object", "array"), func.json(cand.value_expr)),
                             else_=null())
        if through_array:
            # an array on the way: the value is the array of what the rest of the path gives
            # in each object element (aggregation semantics, no index steps)
            ev.json = case((_or(*through_array), self._agg_json(root, path[1:])),
                           else_=leaf_json)
        else:
            ev.json = leaf_json
        return ev

    def _json_text(self, cand: _Cand) -> Any:
        """The candidate as JSON (SQLite text / PostgreSQL jsonb); NULL when missing."""
        if self.pg:
            return cand.x
        t = cand.type_expr
        return case((t.in_([_lit("object"), _lit("array")]), cand.value_expr),
                    (t == _lit("null"), _lit("null")), (t == _lit("true"), _lit("true")),
                    (t == _lit("false"), _lit("false")),
                    (t.is_not(None), func.json_quote(cand.value_expr)), else_=null())

    def _agg_json(self, cand: _Cand, segs: ir.Path) -> Any:
        """``"$a.b.c"`` from ``cand`` with aggregation semantics, as JSON (NULL = missing)."""
        if not segs:
            return self._json_text(cand)
        obj = self._agg_json(cand.key(segs[0]), segs[1:])
        alias, elem = cand.elements()
        inner = self._agg_json(elem.key(segs[0]), segs[1:])
        where = _and(elem.type_is("object"), inner.is_not(None))
        if self.pg:
            agg = func.coalesce(func.jsonb_agg(inner), _jsonb_lit("[]"))
        else:
            agg = func.json_group_array(func.json(inner))
        arr = select(agg).select_from(alias).where(where).scalar_subquery()
        return case((cand.type_is("object"), obj), (cand.type_is("array"), arr), else_=null())

    def _json_rank(self, cand: _Cand) -> Any:
        return _rank_case(self.comp, cand)

    # -- arithmetic ---------------------------------------------------------------------------

    def arith(self, op: str, args: list[_EV]) -> _EV:
        def nullish(a: _EV) -> Any:
            return self._rank_in(a, R_MISSING, R_NULL)

        def bad(a: _EV) -> Any:
            return _not(self._rank_in(a, R_MISSING, R_NULL, R_NUM))

        if op in ("$add", "$multiply"):
            # evaluated left to right: the first null(ish) operand makes the result null, a
            # non-number met before it is an error
            whens_err: list[tuple[Any, Any]] = []
            whens_null: list[tuple[Any, Any]] = []
            for a in args:
                whens_err += [(_c(a.err), True), (nullish(a), False), (bad(a), True)]
                whens_null += [(_c(a.err), False), (nullish(a), True), (bad(a), False)]
            err = _case(*whens_err, else_=False)
            is_null = _case(*whens_null, else_=False)
        else:
            a, b = args
            is_null = _or(nullish(a), nullish(b))
            err = _or(_c(a.err), _c(b.err), _and(_not(is_null), _or(bad(a), bad(b))))
        ev = _EV(rank=_case((is_null, R_NULL), else_=R_NUM), ranks=frozenset({R_NULL, R_NUM}))
        nums = [a.num if a.num is not None else _c(0) for a in args]
        if self.pg:
            fnums = [a.fnum if a.fnum is not None else literal(0.0, DOUBLE_PRECISION)
                     for a in args]
            ev.dbl = _or(*(_c(a.dbl) for a in args))
        if op == "$add":
            ev.num = functools.reduce(lambda x, y: x + y, nums)
            if self.pg:
                ev.fnum = functools.reduce(lambda x, y: x + y, fnums)
        elif op == "$multiply":
            ev.num = functools.reduce(lambda x, y: x * y, nums)
            if self.pg:
                ev.fnum = functools.reduce(lambda x, y: x * y, fnums)
        elif op == "$subtract":
            ev.num = nums[0] - nums[1]
            if self.pg:
                ev.fnum = fnums[0] - fnums[1]
        elif op == "$divide":
            zero = self._is_zero(args[1])
            err = _or(err, _and(_not(is_null), _not(bad(args[0])), _not(bad(args[1])), zero))
            if self.pg:
                ev.dbl = true()
                ev.fnum = fnums[0] / func.nullif(fnums[1], 0)
            else:
                ev.num = cast(nums[0], Float) / nums[1]
        elif op == "$mod":
            zero = self._is_zero(args[1])
            err = _or(err, _and(_not(is_null), _not(bad(args[0])), _not(bad(args[1])), zero))
            if self.pg:
                ev.num = func.mod(nums[0], func.nullif(nums[1], 0))
                ev.fnum = fnums[0] - fnums[1] * func.trunc(fnums[0] / func.nullif(fnums[1], 0))
            else:
                both_int = and_(func.typeof(nums[0]) == _lit("integer"),
                                func.typeof(nums[1]) == _lit("integer"))
                ev.num = case((both_int, nums[0] % nums[1]),
                              else_=func.mod(nums[0], nums[1]))
        if self.pg:
            # a double result: float8 arithmetic, its exact(ish) numeric is its shortest text
            # (float8 -> numeric directly keeps 15 digits); an integer result: exact numeric
            exact = cast(cast(ev.fnum, Text), Numeric)
            if op == "$divide":
                ev.num = exact
            else:
                ev.num, ev.fnum = (case((_c(ev.dbl), exact), else_=ev.num),
                                   case((_c(ev.dbl), ev.fnum),
                                        else_=cast(ev.num, DOUBLE_PRECISION)))
        ev.err = err
        return ev

    def _is_zero(self, a: _EV) -> Any:
        if self.pg:
            return case((_c(a.dbl), a.fnum == 0), else_=a.num == 0)
        return a.num == 0

    # -- comparison and logic -------------------------------------------------------------------

    def compare(self, op: str, a: _EV, b: _EV) -> _EV:
        mop = {"$eq": "eq", "$ne": "eq", "$gt": "gt", "$gte": "gte", "$lt": "lt",
               "$lte": "lte"}[op]
        same = self._same_rank_cmp(mop, a, b)
        if isinstance(a.rank, int) and isinstance(b.rank, int):
            if a.rank != b.rank:
                res = _c(_ops(mop, a.rank, b.rank))
            else:
                res = same
        else:
            ra = _c(a.rank) if isinstance(a.rank, int) else a.rank
            rb = _c(b.rank) if isinstance(b.rank, int) else b.rank
            if mop == "eq":
                res = _and(ra == rb, same)
            else:
                strict = "gt" if mop in ("gt", "gte") else "lt"
                res = _or(_ops(strict, ra, rb), _and(ra == rb, same))
        res = func.coalesce(res, false(), type_=Boolean)
        if op == "$ne":
            res = _not(res)
        return _EV(rank=R_BOOL, ranks=frozenset({R_BOOL}), err=_or(_c(a.err), _c(b.err)),
                   truth=res, num=case((res, 1), else_=0))

    def _same_rank_cmp(self, op: str, a: _EV, b: _EV) -> Any:
        """a OP b assuming both have the same rank (a CASE over the possible ranks)."""
        common = a.ranks & b.ranks
        whens = []
        for r in sorted(common):
            if r in (R_MISSING, R_NULL):
                val = _c(op in ("eq", "gte", "lte"))
            elif r == R_NUM or r == R_BOOL:
                if self.pg and r == R_NUM:
                    # doubles compare as float8; an int and a double that are equal as float8
                    # are told apart exactly (MongoDB compares long and double exactly)
                    strict = {"gt": "gt", "gte": "gt", "lt": "lt", "lte": "lt"}.get(op)
                    tie = _and(a.fnum == b.fnum, _ops(op, a.num, b.num))
                    as_double = tie if strict is None else _or(
                        _ops(strict, a.fnum, b.fnum), tie)
                    val = case((_or(_c(a.dbl), _c(b.dbl)), as_double),
                               else_=_ops(op, a.num, b.num))
                else:
                    val = _ops(op, a.num, b.num)
            elif r == R_STR:
                ta, tb = a.text, b.text
                if self.pg:
                    ta, tb = ta.collate("C"), tb.collate("C")
                val = _ops(op, ta, tb)
            elif r == R_DATE:
                val = _ops(op, a.date, b.date)
            else:
                if a.json is None or b.json is None:
                    val = false()
                elif self.pg:
                    val = _ops(op, a.json, b.json)  # jsonb order: exact for ==, approximate else
                else:
                    val = _ops(op, func.lt_bson_cmp(a.json, b.json, type_=Integer), 0)
            whens.append((r, val))
        if not whens:
            return false()
        if isinstance(a.rank, int):
            return dict(whens).get(a.rank, false())
        return case(*((a.rank == r, v) for r, v in whens), else_=false())

    def logic(self, op: str, args: list[_EV]) -> _EV:
        truths = [func.coalesce(self.truthy(a), false(), type_=Boolean) for a in args]
        if op == "$not":
            res = _not(truths[0])
            err = _c(args[0].err)
        elif op == "$and":
            res = _and(*truths)
            err = _case(*[(w, t) for a, tr in zip(args, truths, strict=True)
                          for w, t in ((_c(a.err), True), (_not(tr), False))], else_=False)
        else:
            res = _or(*truths)
            err = _case(*[(w, t) for a, tr in zip(args, truths, strict=True)
                          for w, t in ((_c(a.err), True), (tr, False))], else_=False)
        return _EV(rank=R_BOOL, ranks=frozenset({R_BOOL}), truth=res, err=err,
                   num=case((res, 1), else_=0))


# =============================================================================================
# Public API
# =============================================================================================


def ir_to_sql(node: ir.IR, dialect_name: str) -> ColumnElement[bool]:
    """The IR as a boolean SQL expression over ``schema.tasks`` for ``sqlite``/``postgresql``."""
    return _Compiler(dialect_name).compile(node)


def index_expression(path: Sequence[str], dialect_name: str, table: Any = tasks) -> Any:
    """The expression an expression index on a JSON ``path`` (column first) is built on.

    The filter compiler emits exactly this expression for the plain object route, so the
    planner can match the index structurally.
    """
    col, *keys = path
    if col not in JSON_COLUMNS or not keys:
        raise ValueError(f"{'.'.join(path)!r} is not a path inside args/metadata/summary/cmd")
    if dialect_name == "postgresql":
        x: Any = type_coerce(table.c[col], JSONB)
        for k in keys:
            x = x.op("->", return_type=JSONB)(_lit(k))
        return x
    return func.json_extract(table.c[col], _lit(json_path_literal(keys)))


# -- sorting ------------------------------------------------------------------------------------


def order_by(sort: Sequence[tuple[str, bool]], dialect_name: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms for ``[(path, descending), ...]`` (spec §3.4).

    Top-level fields sort as columns (null first ascending, last descending). JSON paths use
    the BSON cross-type order: missing = null < numbers < strings < objects < arrays <
    booleans; an array sorts by its smallest element ascending and its largest descending (an
    empty array before null). Empty ``sort`` = fetch order (priority desc, last_modified,
    created_at). ``created_at`` then ``task_id`` always end the list as tie-breakers.
    """
    comp = _Compiler(dialect_name)
    terms: list[ColumnElement[Any]] = []
    if not sort:
        terms += [tasks.c.priority.desc(), tasks.c.last_modified.asc()]
    for path_text, desc in sort:
        path = tuple(path_text.split("."))
        head = path[0]
        if head in SCALAR_FIELDS and len(path) == 1:
            col = tasks.c[SCALAR_FIELDS[head][0]]
            terms.append(col.desc().nulls_last() if desc else col.asc().nulls_first())
        elif head in JSON_COLUMNS:
            terms += _json_sort_terms(comp, path, desc)
        # anything else is missing everywhere: a constant key, no term needed
    terms += [tasks.c.created_at.asc(), tasks.c.task_id.asc()]
    return terms


_R_EMPTY = 1  # an empty array sorts before null


def _json_sort_terms(comp: _Compiler, path: ir.Path, desc: bool) -> list[Any]:
    """Three terms (rank, number, text) of the smallest/largest candidate of ``path``."""
    empty = (_c(_R_EMPTY), cast(null(), Numeric), cast(null(), Text))
    nothing = (_c(R_NULL), cast(null(), Numeric), cast(null(), Text))
    rows: list[tuple[_Route, tuple[Any, Any, Any]]] = []
    leaves = comp.leaves(path, expand=False)
    if all(leaf.eoo for leaf in leaves):
        return []  # missing everywhere: a constant key
    for leaf in leaves:
        cand, route = leaf.cand, leaf.route
        if leaf.eoo:
            rows.append((route, nothing))
        elif cand.is_json:
            # a leaf array sorts by its elements (an empty one before null)
            is_arr = cand.type_is("array")
            alias, elem = cand.elements()
            rows.append((route.add(is_arr).join(alias), _sort_cols(comp, elem)))
            rows.append((route.add(is_arr).add(cand.array_length() == 0), empty))
            rows.append((route.add(cand.present()).add(_not(is_arr)), _sort_cols(comp, cand)))
        else:
            rows.append((route.add(cand.present()), _sort_cols(comp, cand)))
    selects = []
    for route, cols in rows:
        sel = select(*(c.label(n) for c, n in zip(cols, ("r", "n", "t"), strict=True)))
        if route.aliases:
            sel = sel.select_from(_chain(route.aliases))
        conds = [*route.pre, *route.post]
        if conds:
            sel = sel.where(_and(*conds))
        selects.append(sel.correlate(tasks))
    u = union_all(*selects).subquery()
    direction = (lambda c: c.desc()) if desc else (lambda c: c.asc())
    order = [direction(u.c.r), direction(u.c.n), direction(u.c.t)]
    fast = _plain_sort_shortcut(comp, path, leaves)
    subs: list[Any] = []
    for col in (u.c.r, u.c.n, u.c.t):
        sub: Any = select(col).order_by(*order).limit(1).scalar_subquery()
        if col is u.c.r:
            sub = func.coalesce(sub, _c(R_NULL))
        subs.append(sub)
    if fast is not None and comp.dialect == "sqlite" and _sqlite_sortable(path):
        # within one rank every value has one SQLite storage class, so (rank, value) orders
        # like (rank, number, text) with a third fewer JSON calls per row
        subs = [_sqlite_sort_term(path, 0, subs[0]),
                _sqlite_sort_term(path, 1, func.coalesce(subs[1], subs[2]))]
    elif fast is not None:
        found, direct, missing = fast
        subs = [case((found, direct[i]), (missing, nothing[i]), else_=sub)
                for i, sub in enumerate(subs)]
    terms = []
    for sub in subs:
        term = direction(sub)
        terms.append(term.nulls_last() if desc else term.nulls_first())
    return terms


def _sqlite_sortable(path: ir.Path) -> bool:
    return all(_sqlite_key_safe(seg) for seg in path[1:])


_SQLITE_RANKS = {"null": R_NULL, "integer": R_NUM, "real": R_NUM, "text": R_STR,
                 "object": R_OBJ, "true": R_BOOL, "false": R_BOOL}


def _sqlite_sort_term(path: ir.Path, i: int, general: Any) -> Any:
    """Term ``i`` (0: rank, 1: value) of the sort key with one ``json_type`` call per row.

    SQLite's ``$."a"."b"`` resolves only through objects, so a non-null type there is the
    plain route's value: its key is read directly (a simple CASE evaluates ``json_type`` once).
    An array value, or a missing one with an array on the way, takes the general subquery."""
    col = tasks.c[path[0]]
    ty = func.json_type(col, _lit(json_path_literal(path[1:])))
    value = func.json_extract(col, _lit(json_path_literal(path[1:])))
    prefixes = [func.json_type(col, _lit(json_path_literal(path[1:k]))) == _lit("array")
                for k in range(2, len(path))]
    # literal WHEN keys: with bound parameters SQLite ran this CASE three times slower
    if i == 0:
        whens = {_lit(name): _c(rank) for name, rank in _SQLITE_RANKS.items()}
        whens[_lit("array")] = general
        when_missing: Any = _c(R_NULL)
        if prefixes:
            when_missing = case((or_(*prefixes), general), else_=when_missing)
        return case(whens, value=ty, else_=when_missing)
    # the value: json_extract gives numbers, 0/1 for booleans, text, and JSON text for objects
    when_missing = case((or_(*prefixes), general), else_=null()) if prefixes else null()
    return case((ty == _lit("array"), general), (ty.is_(None), when_missing), else_=value)


def _plain_sort_shortcut(comp: _Compiler, path: ir.Path, leaves: list[_Leaf]
                         ) -> tuple[Any, tuple[Any, Any, Any], Any] | None:
    """(found, key, missing) for the common case, so the per-row subquery is skipped.

    When every step of the plain object-key route is an object and the value is not an
    array, that value is the only candidate: its key is computed directly. When no step is an
    array and the value is missing, the path is missing (key of null). Only other rows (arrays
    on the way or at the end) need the general candidate subquery."""
    if path[0] not in _OBJECT_COLUMNS or len(path) < 2:
        return None
    plain = next((lf for lf in leaves if not lf.eoo and not lf.route.aliases
                  and not lf.route.deviates and lf.cand.is_json), None)
    if plain is None:
        return None
    cand = plain.cand
    found = _and(*plain.route.pre, cand.present(), _not(cand.type_is("array")))
    step, no_array = comp.json_root(path[0]), []
    for seg in path[1:-1]:
        step = step.key(seg)
        no_array.append(_not(step.type_is("array")))
    missing = _and(*no_array, cand.missing())
    return found, _sort_cols(comp, cand), missing


def _sort_cols(comp: _Compiler, cand: _Cand) -> tuple[Any, Any, Any]:
    """(BSON rank, numeric value, text value) of one candidate, for sorting."""
    no_num, no_text = cast(null(), Numeric), cast(null(), Text)
    if isinstance(cand, _ColCand):
        return (_c(R_NULL), no_num, no_text)
    rank = _rank_case(comp, cand, missing=R_NULL)
    if comp.pg:
        t = cand.type_expr
        num = case((t == _lit("number"), cand.numeric()),
                   (t == _lit("boolean"), case((cand.x == _jsonb_lit("true"), literal_column(
                       "1", Numeric)), else_=literal_column("0", Numeric))), else_=no_num)
        text = case((t.in_([_lit("string"), _lit("object"), _lit("array")]),
                     cand.text().collate("C")), else_=no_text)
        return rank, num, text
    t = cand.type_expr
    num = case((t.in_([_lit("integer"), _lit("real"), _lit("true"), _lit("false")]),
                cand.value_expr), else_=no_num)
    text = case((t.in_([_lit("text"), _lit("object"), _lit("array")]), cand.value_expr),
                else_=no_text)
    return rank, num, text


def _rank_case(comp: _Compiler, cand: _Cand, missing: int = R_MISSING) -> Any:
    """The BSON type rank of a JSON candidate (``missing`` when absent)."""
    t = cand.type_expr
    if comp.pg:
        pairs = [("null", R_NULL), ("number", R_NUM), ("string", R_STR), ("object", R_OBJ),
                 ("array", R_ARR), ("boolean", R_BOOL)]
        return case(*((t == _lit(n), _c(r)) for n, r in pairs), else_=_c(missing))
    return case((t == _lit("null"), _c(R_NULL)),
                (t.in_([_lit("integer"), _lit("real")]), _c(R_NUM)),
                (t == _lit("text"), _c(R_STR)), (t == _lit("object"), _c(R_OBJ)),
                (t == _lit("array"), _c(R_ARR)),
                (t.in_([_lit("true"), _lit("false")]), _c(R_BOOL)), else_=_c(missing))


# -- regular expressions ------------------------------------------------------------------------


#: A regular expression may spend at most this long on one value (the ``regex`` package
#: checks its deadline while backtracking; the standard ``re`` cannot be interrupted).
REGEX_TIMEOUT_S = 1.0

_REGEX_FLAGS = {"i": _regex.IGNORECASE, "m": _regex.MULTILINE, "s": _regex.DOTALL,
                "x": _regex.VERBOSE}


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, flags: str) -> Any:
    fl = _regex.VERSION0  # the syntax and semantics of Python's re
    for ch in flags:
        fl |= _REGEX_FLAGS.get(ch, 0)
    return _regex.compile(pattern, fl)


def _lt_regexp(pattern: Any, flags: Any, value: Any) -> int:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return 0
    try:
        compiled = _compiled(pattern, flags or "")
    except (_regex.error, re.error, ValueError, OverflowError, RecursionError):
        return 0
    try:
        return 1 if compiled.search(value, timeout=REGEX_TIMEOUT_S) else 0
    except TimeoutError:
        from labtasker_tui.query.sqlite_udf import set_error

        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        # SQLite reports "user-defined function raised exception"; the store maps it back
        raise set_error(FilterError(
            f"regex {shown!r} took longer than {REGEX_TIMEOUT_S:g} s on one value;"
            " simplify it (avoid nested quantifiers such as (a+)+)")) from None


def _lt_bson_cmp(a: Any, b: Any) -> int | None:
    """-1/0/1: two JSON texts in BSON order (objects with sorted keys)."""
    if a is None or b is None:
        return None
    try:
        return _bson_cmp(json.loads(a), json.loads(b))
    except (TypeError, ValueError):
        return None


def _date_marker(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return {"$date": v.isoformat()}
    raise TypeError(v)


def _bson_rank(v: Any) -> int:
    if isinstance(v, dict) and len(v) == 1 and "$date" in v:
        return R_DATE  # a date of a filter literal (stored JSON holds none)
    if v is None:
        return R_NULL
    if isinstance(v, bool):
        return R_BOOL
    if isinstance(v, (int, float)):
        return R_NUM
    if isinstance(v, str):
        return R_STR
    return R_OBJ if isinstance(v, dict) else R_ARR


def _bson_cmp(a: Any, b: Any) -> int:
    ra, rb = _bson_rank(a), _bson_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == R_NULL:
        return 0
    if ra == R_DATE:
        a, b = a["$date"], b["$date"]
    if ra == R_STR:
        a, b = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    if ra == R_ARR:
        for x, y in zip(a, b, strict=False):
            c = _bson_cmp(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra == R_OBJ:
        ka, kb = sorted(a), sorted(b)
        for x, y in zip(ka, kb, strict=False):
            ra, rb = _bson_rank(a[x]), _bson_rank(b[y])
            c = (ra > rb) - (ra < rb) or _bson_cmp(x, y) or _bson_cmp(a[x], b[y])
            if c:
                return c
        return (len(ka) > len(kb)) - (len(ka) < len(kb))
    return (a > b) - (a < b)


def _regexp(pattern: Any, value: Any) -> int:
    return _lt_regexp(pattern, "", value)


def _fmod(a: Any, b: Any) -> float | None:
    try:
        return math.fmod(a, b)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


_PY_INLINE = re.compile(r"^\(\?([aiLmsux]+)\)")
_QUANT = re.compile(r"\{\d+(,\d*)?\}")
_PG_UNSUPPORTED = (
    ("(?>", "atomic groups"), ("(?P=", "named back-references"), ("\\p{", "\\p{...}"),
    ("\\P{", "\\P{...}"), ("\\N{", "\\N{...}"), ("\\K", "\\K"), ("\\G", "\\G"),
)


def regex_to_postgres(pattern: str, flags: str) -> str:
    """A Python-style pattern as a PostgreSQL ARE with embedded options.

    Leading inline flags are folded into the options; ``\\b``/``\\B`` become ``\\y``/``\\Y``;
    named groups become plain groups (``(?P=name)`` -> ``\\N``); a ``{`` that starts no
    quantifier is escaped. Default ``.`` does not match a newline (as in PCRE and Python);
    ``s`` lets it, ``m`` makes ``^``/``$`` match at line breaks. Constructs PostgreSQL lacks
    raise ValueError.
    """
    fl = set(flags)
    while True:
        m = _PY_INLINE.match(pattern)
        if not m:
            break
        fl |= set(m.group(1)) & set("imsx")
        pattern = pattern[m.end():]
    out: list[str] = []
    groups: dict[str, int] = {}
    ngroups = 0
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt == "b":
                out.append("\\y")
            elif not in_class and nxt == "B":
                out.append("\\Y")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if pattern.startswith("(?P<", i):
            end = pattern.find(">", i)
            if end > 0:
                ngroups += 1
                groups[pattern[i + 4:end]] = ngroups
                out.append("(")
                i = end + 1
                continue
        if pattern.startswith("(?P=", i):
            end = pattern.find(")", i)
            name = pattern[i + 4:end] if end > 0 else ""
            if name in groups:
                out.append(f"\\{groups[name]}")
                i = end + 1
                continue
        if pattern.startswith("(?", i) and i + 2 < len(pattern) and pattern[i + 2] in "aiLmsux-":
            raise ValueError("scoped inline flags like (?i:...) are not supported on "
                             "PostgreSQL; put the flags at the start: (?i)...")
        if ch == "(" and not pattern.startswith("(?", i):
            ngroups += 1
        if ch == "{" and not _QUANT.match(pattern, i):
            out.append("\\{")
            i += 1
            continue
        if ch in "*+?}" and i + 1 < len(pattern) and pattern[i + 1] == "+":
            raise ValueError("possessive quantifiers are not supported on PostgreSQL")
        out.append(ch)
        i += 1
    body = "".join(out)
    for needle, what in _PG_UNSUPPORTED:
        if needle in body:
            raise ValueError(f"{what} in a regular expression is not supported on PostgreSQL")
    opts = ""
    if "i" in fl:
        opts += "i"
    if "x" in fl:
        opts += "x"
    m_, s_ = "m" in fl, "s" in fl
    opts += {(False, False): "p", (True, False): "n", (False, True): "s", (True, True): "w"}[
        (m_, s_)]
    return f"(?{opts}){body}"
