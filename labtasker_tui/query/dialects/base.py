"""What a SQL dialect gives the filter compiler, and the value rules both dialects share.

A *value* is one candidate of a path in a row: a JSON value (:class:`JsonValue`, one subclass
per dialect) or a plain column of ``tasks`` (:class:`ColumnValue`). A :class:`Dialect` turns
predicates on values into SQL; the shared rules live here, and each dialect module overrides
the hooks where its SQL differs (in the manner of sqlglot's dialect files).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import and_, case, false, literal, literal_column, not_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, Select

from labtasker_tui.query import ir
from labtasker_tui.query.bson import (
    INT32,
    INT64,
    has_nonfinite,
    is_inf,
    is_nan,
    is_number,
)
from labtasker_tui.query.columns import OBJECT_COLUMNS
from labtasker_tui.query.compose import Cond, all_of, any_of, compare
from labtasker_tui.query.paths import sqlstr
from labtasker_tui.schema import tasks


def text_literal(s: str) -> ColumnElement[Any]:
    """A SQL string literal rendered inline (part of the statement, hence of its cache key):
    JSON paths and type names, so expression indexes match structurally."""
    return literal_column(sqlstr(s))


#: The JSON types that are not containers (a path that goes on past one finds nothing).
SCALAR_TYPES = ("null", "true", "false", "number", "string")

#: ``$in`` lists longer than this compare their strings and numbers through one JSON parameter.
BULK_IN = 16


class JsonValue(ABC):
    """A JSON value in the row (SQL NULL when the path is missing there)."""

    is_json = True

    @abstractmethod
    def type_is(self, *names: str) -> Cond:
        """The value has one of the JSON types ``names`` (null true false bool number string
        object array)."""

    @abstractmethod
    def present(self) -> Cond: ...

    @abstractmethod
    def missing(self) -> Cond: ...

    @abstractmethod
    def key(self, k: str) -> JsonValue:
        """The member ``k`` of an object (missing for anything else)."""

    @abstractmethod
    def index(self, i: int) -> JsonValue:
        """Element ``i`` of an array (missing for anything else)."""

    @abstractmethod
    def elements(self) -> tuple[FromClause, JsonValue]:
        """(a table of the elements of an array, the element of its row)."""

    @abstractmethod
    def array_length(self) -> ColumnElement[Any]: ...

    @abstractmethod
    def text(self) -> ColumnElement[Any]:
        """The value as SQL text (a string's characters)."""


class ColumnValue:
    """A plain column of ``tasks`` (NULL behaves as a JSON null, never as missing)."""

    is_json = False

    def __init__(self, col: ColumnElement[Any], kind: str) -> None:
        self.col = col
        self.kind = kind

    def type_is(self, *names: str) -> Cond:
        conds = []
        if "null" in names:
            conds.append(self.col.is_(None))
        if ("string" in names and self.kind == "string") or (
                "number" in names and self.kind in ("int", "double")):
            conds.append(self.col.is_not(None))
        return any_of(*conds)

    def present(self) -> Cond:
        return true()

    def missing(self) -> Cond:
        return false()


Value = JsonValue | ColumnValue


class Document(Protocol):
    """What a sub-filter of ``$elemMatch`` walks: something with keys."""

    def key(self, k: str) -> JsonValue: ...


class ArrayAsDocument:
    """An array seen as a document whose keys are "0", "1", ... (MongoDB's isABSONObj)."""

    def __init__(self, array: JsonValue, absent: JsonValue) -> None:
        self.array = array
        self.absent = absent

    def key(self, k: str) -> JsonValue:
        if k.isdigit() and k.isascii() and len(k) < 10:
            return self.array.index(int(k))
        return self.absent


@dataclass
class ExprValue:
    """A typed SQL value of a ``$expr`` operand. ``ranks``: the BSON type ranks it can take
    (known when compiling); ``rank``: the one it takes in the row (an int when constant)."""

    rank: Any
    ranks: frozenset[int]
    number: Any = None  # numbers (and 0/1 for booleans)
    float_number: Any = None  # PostgreSQL: the float8 view of ``number``
    is_double: Any = False  # PostgreSQL: a double (arithmetic then runs in float8)
    text: Any = None
    date: Any = None
    json: Any = None
    error: Any = False  # evaluation raises in this row (the filter then fails)
    message: Any = None  # why (SQL text), where ``error`` holds
    truth: Any = None  # for boolean results


@dataclass
class PlainSort:
    """The plain object-key route of a sort path: where it finds the value, that value's
    sort key, where the path is missing (no array on the way), and the key of missing."""

    found: Any
    key: tuple[Any, Any, Any]
    missing: Any
    nothing: tuple[Any, Any, Any]


V = TypeVar("V", bound=JsonValue)


class Dialect(ABC, Generic[V]):
    """Predicates on one value, in one dialect's SQL."""

    name: str

    # -- values -----------------------------------------------------------------------------

    @abstractmethod
    def own(self, c: JsonValue) -> V:
        """``c`` as this dialect's value (every JSON value a compilation meets is one)."""

    @abstractmethod
    def json_root(self, col: str) -> V:
        """The whole document in JSON column ``col``."""

    @abstractmethod
    def absent(self) -> V:
        """A value that is missing in every row."""

    def array_as_document(self, array: JsonValue) -> ArrayAsDocument:
        return ArrayAsDocument(array, self.absent())

    @abstractmethod
    def index_expression(self, path: Sequence[str], table: Any = tasks) -> ColumnElement[Any]:
        """The expression an expression index on JSON ``path`` (column first) is built on."""

    def index_hint(self, path: ir.Path) -> ColumnElement[Any] | None:
        """The expression an index on ``path`` is built on, when it is a plain object path."""
        if path[0] not in OBJECT_COLUMNS or len(path) < 2:
            return None
        return self.index_expression(path)

    @abstractmethod
    def array_range(self, x: ColumnElement[Any]) -> Cond:
        """A condition implied by "x is a JSON array" that an index on x can serve."""

    @abstractmethod
    def order_text(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        """``x`` compared by code points (the order of BSON strings)."""

    # -- comparisons ------------------------------------------------------------------------

    def compare(self, c: Value, op: str, v: Any) -> Cond:
        """ComparisonMatchExpression on one value (type-bracketed)."""
        if isinstance(c, ColumnValue):
            return self.column_compare(c, op, v)
        if v is None:
            return c.type_is("null") if op in ("eq", "gte", "lte") else false()
        if isinstance(v, bool):
            return self.bool_compare(self.own(c), op, v)
        if is_number(v):
            return self.number_compare(self.own(c), op, v)
        if isinstance(v, str):
            return self.string_compare(self.own(c), op, v)
        if isinstance(v, dt.datetime):
            return false()  # JSON holds no dates
        if isinstance(v, (list, dict)):
            if op == "eq":
                return self.struct_equal(self.own(c), v)
            if has_nonfinite(v):
                return false()
            return self.struct_order(self.own(c), op, v)
        raise TypeError(f"unsupported literal {v!r}")

    def bool_compare(self, c: V, op: str, v: bool) -> Cond:
        allowed = [b for b in (False, True) if compare(op, b, v)]
        if not allowed:
            return false()
        return c.type_is(*("true" if b else "false" for b in allowed))

    @abstractmethod
    def number_compare(self, c: V, op: str, v: int | float) -> Cond: ...

    @abstractmethod
    def string_compare(self, c: V, op: str, v: str) -> Cond: ...

    @abstractmethod
    def struct_equal(self, c: V, v: Any) -> Cond:
        """Deep equality with a literal: numbers numerically, objects with unordered keys."""

    @abstractmethod
    def struct_order(self, c: V, op: str, v: list[Any] | dict[str, Any]) -> Cond:
        """BSON order against an array or object literal (op: gt gte lt lte)."""

    def infinite_compare(self, c: Value, op: str, v: float) -> Cond:
        """No stored number is infinite: every number is below +inf and above -inf."""
        if (v > 0 and op in ("lt", "lte")) or (v < 0 and op in ("gt", "gte")):
            return c.type_is("number")
        return false()

    # -- $in --------------------------------------------------------------------------------

    def in_(self, c: Value, values: Sequence[Any]) -> Cond:
        parts = []
        rest = values
        if len(values) > BULK_IN:
            bulk, rest = self.bulk_in(c, values)
            parts += bulk
        for v in rest:
            if isinstance(v, ir.Regex):
                parts.append(self.regex(c, v.pattern, v.flags))
            else:
                parts.append(self.compare(c, "eq", v))
        return any_of(*parts)

    def bulk_in(self, c: Value, values: Sequence[Any]) -> tuple[list[Cond], list[Any]]:
        """Equality with many scalars as ``x IN (SELECT value FROM <json list>)``: one bound
        JSON parameter and one hash lookup per row, whatever the length of the list.
        Returns (conditions, the values left to compare one by one)."""
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if is_number(v) and not is_nan(v) and not is_inf(v)
                   and (not isinstance(v, int) or INT64[0] <= v <= INT64[1])]
        taken = {id(v) for v in strings} | {id(v) for v in numbers}
        rest = [v for v in values if id(v) not in taken]
        parts: list[Cond] = []
        if isinstance(c, ColumnValue):
            if c.kind == "string" and strings:
                parts.append(c.col.in_(self.json_list(strings, text=True)))
            elif strings:
                rest += strings
            if c.kind in ("int", "double") and numbers:
                parts.append(self.column_in_numbers(c, numbers))
            elif numbers:
                rest += numbers
            return parts, rest
        return self.json_in(self.own(c), strings, numbers), rest

    @abstractmethod
    def json_list(self, values: list[Any], *, text: bool = False) -> Select[Any]:
        """``SELECT value FROM <values as one bound JSON list>`` (text: as SQL text)."""

    @abstractmethod
    def column_in_numbers(self, c: ColumnValue, numbers: list[Any]) -> Cond: ...

    @abstractmethod
    def json_in(self, c: V, strings: list[str], numbers: list[Any]) -> list[Cond]: ...

    # -- other leaf predicates ---------------------------------------------------------------

    def regex(self, c: Value, pattern: str, flags: str) -> Cond:
        if isinstance(c, ColumnValue):
            if c.kind != "string":
                return false()
            return all_of(c.col.is_not(None), self.regex_match(c.col, pattern, flags))
        text = self.own(c).text()
        return all_of(c.type_is("string"), self.regex_match(text, pattern, flags))

    @abstractmethod
    def regex_match(self, text: Any, pattern: str, flags: str) -> Cond: ...

    @abstractmethod
    def mod(self, c: Value, divisor: int, remainder: int) -> Cond:
        """A number whose value truncated toward zero (and within 64 bits) has
        ``remainder`` modulo ``divisor`` (a remainder with the dividend's sign)."""

    def size(self, c: Value, n: int) -> Cond:
        if isinstance(c, ColumnValue):
            return false()
        return all_of(c.type_is("array"), c.array_length() == n)

    def type_(self, c: Value, types: frozenset[str]) -> Cond:
        if isinstance(c, ColumnValue):
            return self.column_type(c, types)
        parts = []
        names = [t for t in ("string", "object", "array", "bool", "null") if t in types]
        if names:
            parts.append(c.type_is(*names))
        if {"int", "long", "double"} <= types:
            parts.append(c.type_is("number"))
        else:
            for t in ("int", "long", "double"):
                if t in types:
                    parts.append(self.number_kind(self.own(c), t))
        return any_of(*parts)

    @abstractmethod
    def number_kind(self, c: V, kind: str) -> Cond:
        """A number stored as ``kind``: int (32 bits), long (wider) or double."""

    # -- plain columns ----------------------------------------------------------------------

    def column_compare(self, c: ColumnValue, op: str, v: Any) -> Cond:
        col, kind = c.col, c.kind
        if v is None:
            return col.is_(None) if op in ("eq", "gte", "lte") else false()
        if kind == "string" and isinstance(v, str):
            return compare(op, col if op == "eq" else self.order_text(col), literal(v))
        if kind in ("int", "double") and is_number(v):
            if is_nan(v):
                return false()
            if is_inf(v):
                if (v > 0 and op in ("lt", "lte")) or (v < 0 and op in ("gt", "gte")):
                    return col.is_not(None)
                return false()
            return compare(op, col, self.column_number(v))
        if kind == "date" and isinstance(v, dt.datetime):
            return compare(op, col, literal(v, col.type))
        return false()

    @abstractmethod
    def column_number(self, v: int | float) -> ColumnElement[Any] | int | float:
        """A number literal compared with a numeric column."""

    def column_type(self, c: ColumnValue, types: frozenset[str]) -> Cond:
        col, kind = c.col, c.kind
        parts: list[Cond] = []
        if "null" in types:
            parts.append(col.is_(None))
        if (kind == "string" and "string" in types) or (kind == "date" and "date" in types) or (
                kind == "double" and "double" in types):
            parts.append(col.is_not(None))
        if kind == "int":
            if "int" in types and "long" in types:
                parts.append(col.is_not(None))
            elif "int" in types:
                parts.append(col.between(*INT32))
            elif "long" in types:
                parts.append(and_(col.is_not(None), not_(col.between(*INT32))))
        return any_of(*parts)

    # -- sorting ----------------------------------------------------------------------------

    @abstractmethod
    def rank_of(self, c: V, missing: int) -> ColumnElement[Any]:
        """The BSON type rank of a JSON value (``missing`` when absent)."""

    @abstractmethod
    def sort_columns(self, c: V) -> tuple[Any, Any, Any]:
        """(BSON rank, numeric value, text value) of one value, for sorting."""

    def plain_sort_keys(self, path: ir.Path, general: list[Any], plain: PlainSort) -> list[Any]:
        """The sort key of JSON ``path``: ``general`` (the per-row subqueries) unless the row
        takes the plain route (``plain``: its value found, or missing)."""
        return [case((plain.found, plain.key[i]), (plain.missing, plain.nothing[i]), else_=sub)
                for i, sub in enumerate(general)]

    # -- $expr ------------------------------------------------------------------------------

    @abstractmethod
    def expr_number(self, v: int | float, ev: ExprValue) -> None:
        """Fill ``ev`` for a number literal."""

    @abstractmethod
    def expr_column_number(self, col: Any, kind: str, ev: ExprValue) -> None:
        """Fill ``ev`` for a numeric column."""

    @abstractmethod
    def expr_json_leaf(self, c: V, ev: ExprValue) -> ColumnElement[Any]:
        """Fill ``ev``'s number and text for a JSON value; return the value as JSON."""

    @abstractmethod
    def expr_json_literal(self, v: Any) -> ColumnElement[Any]:
        """An object or array literal as the dialect's JSON."""

    @abstractmethod
    def json_of(self, c: V) -> ColumnElement[Any]:
        """The value as the dialect's JSON (NULL when missing)."""

    @abstractmethod
    def json_array_agg(self, inner: ColumnElement[Any]) -> ColumnElement[Any]:
        """The aggregate collecting ``inner`` into a JSON array ([] for no rows)."""

    @abstractmethod
    def expr_arith(self, op: str, args: list[ExprValue], result: ExprValue) -> None:
        """Fill ``result``'s number for ``$add $subtract $multiply $divide $mod`` over ``args``
        (the caller sets its rank and error)."""

    @abstractmethod
    def expr_number_compare(self, op: str, a: ExprValue, b: ExprValue) -> Cond: ...

    @abstractmethod
    def expr_json_compare(self, op: str, a: Any, b: Any) -> Cond: ...

    def expr_is_zero(self, a: ExprValue) -> Cond:
        return compare("eq", a.number, 0)

    @abstractmethod
    def expr_raise(self, message: ColumnElement[Any]) -> Cond:
        """A condition whose evaluation fails the statement with ``message`` (SQL text), so
        that :func:`labtasker_tui.query.errors.filter_error_from_database` finds it."""

