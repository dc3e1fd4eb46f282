"""SQLite: JSON values as ``json_type``/``json_extract`` on a (document, JSON path) pair, array
steps through ``json_each``, regexes and BSON order through the functions of
:mod:`labtasker_tui.query.sqlite_functions`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
    null,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, ScalarSelect, Select, TableValuedAlias

from labtasker_tui.query import ir
from labtasker_tui.query.bson import (
    INT32,
    INT64,
    RANK_ARRAY,
    RANK_BOOL,
    RANK_NULL,
    RANK_NUMBER,
    RANK_OBJECT,
    RANK_STRING,
    date_marker,
    has_date,
    has_nonfinite,
    is_inf,
    is_nan,
    is_number,
)
from labtasker_tui.query.compose import Cond, all_of, as_sql, compare, negate
from labtasker_tui.query.dialects.base import (
    ColumnValue,
    Dialect,
    ExprValue,
    JsonValue,
    PlainSort,
    text_literal,
)
from labtasker_tui.query.paths import json_path_literal, sqlite_key_safe
from labtasker_tui.schema import tasks

#: JSON type names -> what SQLite's json_type() says.
_TYPE_NAMES = {
    "null": ("null",), "true": ("true",), "false": ("false",), "number": ("integer", "real"),
    "string": ("text",), "object": ("object",), "array": ("array",),
    "bool": ("true", "false"),
}
#: json_type() -> BSON rank (arrays and missing values are handled by the callers).
_RANKS = {"null": RANK_NULL, "integer": RANK_NUMBER, "real": RANK_NUMBER, "text": RANK_STRING,
          "object": RANK_OBJECT, "true": RANK_BOOL, "false": RANK_BOOL}


def _each(base: ColumnElement[Any], segments: tuple[str | int, ...]) -> TableValuedAlias:
    return func.json_each(base, text_literal(json_path_literal(segments))).table_valued(
        "key", "value", "type")


class SqliteValue(JsonValue):
    """``type_expr``/``value_expr`` plus the (document, path) that reaches inside containers."""

    def __init__(self, type_expr: ColumnElement[Any], value_expr: ColumnElement[Any],
                 base: ColumnElement[Any], segments: tuple[str | int, ...]) -> None:
        self.type_expr = type_expr
        self.value_expr = value_expr
        self.base = base
        self.segments = segments

    @classmethod
    def at(cls, base: Any, segments: tuple[str | int, ...]) -> SqliteValue:
        p = text_literal(json_path_literal(segments))
        return cls(func.json_type(base, p), func.json_extract(base, p), base, segments)

    def type_is(self, *names: str) -> Cond:
        sq = [t for n in names for t in _TYPE_NAMES[n]]
        if len(sq) == 1:
            return self.type_expr == text_literal(sq[0])
        return self.type_expr.in_([text_literal(t) for t in sq])

    def present(self) -> Cond:
        return self.type_expr.is_not(None)

    def missing(self) -> Cond:
        return self.type_expr.is_(None)

    def key(self, k: str) -> SqliteValue:
        if sqlite_key_safe(k):
            return SqliteValue.at(self.base, (*self.segments, k))
        # keys SQLite cannot spell in a path: look them up with json_each (no index, rare)
        je = _each(self.base, self.segments)
        found = je.c.key == literal(k)
        type_ = select(je.c.type).where(found).limit(1).scalar_subquery()
        value = select(je.c.value).where(found).limit(1).scalar_subquery()
        base = select(case((je.c.type.in_([text_literal("object"), text_literal("array")]),
                            je.c.value), else_=null())).where(found).limit(1).scalar_subquery()
        return SqliteValue(type_, value, base, ())

    def index(self, i: int) -> SqliteValue:
        return SqliteValue.at(self.base, (*self.segments, i))

    def elements(self) -> tuple[FromClause, SqliteValue]:
        alias = _each(self.base, self.segments)
        t, v = alias.c.type, alias.c.value
        base = case((t.in_([text_literal("object"), text_literal("array")]), v), else_=null())
        return alias, SqliteValue(t, v, base, ())

    def array_length(self) -> ColumnElement[Any]:
        return func.json_array_length(self.base, text_literal(json_path_literal(self.segments)))

    def key_count(self) -> ScalarSelect[Any]:
        return select(func.count()).select_from(_each(self.base, self.segments)) \
            .scalar_subquery()

    def text(self) -> ColumnElement[Any]:
        return self.value_expr


class SqliteDialect(Dialect[SqliteValue]):
    name = "sqlite"

    def own(self, c: JsonValue) -> SqliteValue:
        if not isinstance(c, SqliteValue):
            raise TypeError(f"not a SQLite value: {c!r}")
        return c

    def json_root(self, col: str) -> SqliteValue:
        return SqliteValue.at(tasks.c[col], ())

    def absent(self) -> SqliteValue:
        return SqliteValue(null(), null(), null(), ())

    def index_expression(self, path: Sequence[str], table: Any = tasks) -> ColumnElement[Any]:
        col, *keys = path
        return func.json_extract(table.c[col], text_literal(json_path_literal(keys)))

    def index_hint(self, path: ir.Path) -> ColumnElement[Any] | None:
        if not all(sqlite_key_safe(s) for s in path[1:]):
            return None
        return super().index_hint(path)

    def array_range(self, x: ColumnElement[Any]) -> Cond:
        # json_extract gives an array as JSON text: "[" up to (excluding) the next character
        return and_(x >= text_literal("["), x < text_literal("\\"))

    def order_text(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        return x  # SQLite's default BINARY collation compares UTF-8 bytes: code point order

    # -- comparisons ------------------------------------------------------------------------

    def bool_compare(self, c: SqliteValue, op: str, v: bool) -> Cond:
        allowed = [b for b in (False, True) if compare(op, b, v)]
        if len(allowed) == 1:  # an index on json_extract() can serve x = 1 / 0
            return all_of(c.value_expr == int(allowed[0]),
                          c.type_is("true" if allowed[0] else "false"))
        return super().bool_compare(c, op, v)

    def number_compare(self, c: SqliteValue, op: str, v: int | float) -> Cond:
        if is_nan(v):
            return false()
        if is_inf(v):
            return self.infinite_compare(c, op, v)
        x = c.value_expr
        cond = compare(op, x, literal(self.column_number(v)))
        if op in ("gt", "gte"):
            cond = and_(cond, x < text_literal(""))  # numbers sort below all text: a range
        return all_of(cond, c.type_is("number"))

    def string_compare(self, c: SqliteValue, op: str, v: str) -> Cond:
        if op == "eq":
            return all_of(c.value_expr == literal(v), c.type_is("string"))
        return all_of(c.type_is("string"), compare(op, c.value_expr, literal(v)))

    def struct_equal(self, c: SqliteValue, v: Any) -> Cond:
        if has_date(v) or has_nonfinite(v):
            return false()  # JSON holds neither dates nor NaN/Infinity
        if v is None:
            return c.type_is("null")
        if isinstance(v, bool):
            return c.type_is("true" if v else "false")
        if is_number(v):
            return self.number_compare(c, "eq", v)
        if isinstance(v, str):
            return all_of(c.value_expr == literal(v), c.type_is("string"))
        if isinstance(v, list):
            parts = [c.type_is("array"), c.array_length() == len(v)]
            parts += [self.struct_equal(c.index(i), x) for i, x in enumerate(v)]
            return all_of(*parts)
        if isinstance(v, dict):
            parts = [c.type_is("object"), c.key_count() == len(v)]
            parts += [self.struct_equal(c.key(k), x) for k, x in v.items()]
            return all_of(*parts)
        raise TypeError(f"unsupported literal {v!r}")

    def struct_order(self, c: SqliteValue, op: str, v: list[Any] | dict[str, Any]) -> Cond:
        # exact BSON order through the registered function
        kind = "array" if isinstance(v, list) else "object"
        text = json.dumps(v, default=date_marker)
        order = func.bson_compare(c.value_expr, literal(text), type_=Integer)
        return all_of(c.type_is(kind), compare(op, order, 0))

    # -- $in --------------------------------------------------------------------------------

    def json_list(self, values: list[Any], *, text: bool = False) -> Select[Any]:
        doc = literal(json.dumps(values, ensure_ascii=False))
        return select(func.json_each(doc).table_valued("value").c.value)

    def column_in_numbers(self, c: ColumnValue, numbers: list[Any]) -> Cond:
        return c.col.in_(self.json_list(numbers))

    def json_in(self, c: SqliteValue, strings: list[str], numbers: list[Any]) -> list[Cond]:
        parts = []
        if strings:
            parts.append(all_of(c.value_expr.in_(self.json_list(strings)), c.type_is("string")))
        if numbers:
            parts.append(all_of(c.value_expr.in_(self.json_list(numbers)), c.type_is("number")))
        return parts

    # -- other leaf predicates ---------------------------------------------------------------

    def regex_match(self, text: Any, pattern: str, flags: str) -> Cond:
        return func.regex_search(literal(pattern), text_literal(flags), text,
                                 type_=Boolean) == 1

    def mod(self, c: ColumnValue | JsonValue, divisor: int, remainder: int) -> Cond:
        x: ColumnElement[Any]
        is_number: Cond
        if isinstance(c, ColumnValue):
            if c.kind not in ("int", "double"):
                return false()
            x, is_number = c.col, c.col.is_not(None)
        else:
            x, is_number = self.own(c).value_expr, c.type_is("number")
        # CAST truncates a real toward zero; % keeps the dividend's sign (as C and MongoDB)
        return all_of(is_number, x >= literal(-(2.0**63)), x < literal(2.0**63),
                      cast(x, Integer) % literal(divisor) == literal(remainder))

    def number_kind(self, c: SqliteValue, kind: str) -> Cond:
        if kind == "double":
            return c.type_expr == text_literal("real")
        in32 = c.value_expr.between(*INT32)
        return all_of(c.type_expr == text_literal("integer"),
                      in32 if kind == "int" else negate(in32))

    def column_number(self, v: int | float) -> ColumnElement[Any] | int | float:
        if isinstance(v, int) and not INT64[0] <= v <= INT64[1]:
            return float(v)  # beyond what SQLite stores: exact enough against int64
        return v

    # -- sorting ----------------------------------------------------------------------------

    def rank_of(self, c: SqliteValue, missing: int) -> ColumnElement[Any]:
        t = c.type_expr
        return case((t == text_literal("null"), as_sql(RANK_NULL)),
                    (t.in_([text_literal("integer"), text_literal("real")]), as_sql(RANK_NUMBER)),
                    (t == text_literal("text"), as_sql(RANK_STRING)),
                    (t == text_literal("object"), as_sql(RANK_OBJECT)),
                    (t == text_literal("array"), as_sql(RANK_ARRAY)),
                    (t.in_([text_literal("true"), text_literal("false")]), as_sql(RANK_BOOL)),
                    else_=as_sql(missing))

    def sort_columns(self, c: SqliteValue) -> tuple[Any, Any, Any]:
        t = c.type_expr
        num = case((t.in_([text_literal(n) for n in ("integer", "real", "true", "false")]),
                    c.value_expr), else_=cast(null(), Numeric))
        text = case((t.in_([text_literal(n) for n in ("text", "object", "array")]),
                     c.value_expr), else_=cast(null(), Text))
        return self.rank_of(c, RANK_NULL), num, text

    def plain_sort_keys(self, path: ir.Path, general: list[Any], plain: PlainSort) -> list[Any]:
        if not all(sqlite_key_safe(seg) for seg in path[1:]):
            return super().plain_sort_keys(path, general, plain)
        # within one rank every value has one SQLite storage class, so (rank, value) orders
        # like (rank, number, text) with a third fewer JSON calls per row
        return [self._sort_key(path, 0, general[0]),
                self._sort_key(path, 1, func.coalesce(general[1], general[2]))]

    def _sort_key(self, path: ir.Path, i: int, general: ColumnElement[Any]) -> ColumnElement[Any]:
        """Term ``i`` (0: rank, 1: value) of the sort key with one ``json_type`` per row.

        SQLite's ``$."a"."b"`` resolves only through objects, so a non-null type there is the
        plain route's value: its key is read directly (a simple CASE evaluates ``json_type``
        once). An array value, or a missing one with an array on the way, takes the general
        subquery."""
        col = tasks.c[path[0]]
        ty = func.json_type(col, text_literal(json_path_literal(path[1:])))
        value = func.json_extract(col, text_literal(json_path_literal(path[1:])))
        prefixes = [func.json_type(col, text_literal(json_path_literal(path[1:k])))
                    == text_literal("array") for k in range(2, len(path))]
        # literal WHEN keys: with bound parameters SQLite ran this CASE three times slower
        if i == 0:
            whens: dict[Any, Any] = {text_literal(name): as_sql(rank)
                                     for name, rank in _RANKS.items()}
            whens[text_literal("array")] = general
            when_missing: Any = as_sql(RANK_NULL)
            if prefixes:
                when_missing = case((or_(*prefixes), general), else_=when_missing)
            return case(whens, value=ty, else_=when_missing)
        # the value: json_extract gives numbers, 0/1 for booleans, text, and JSON text for
        # objects
        when_missing = case((or_(*prefixes), general), else_=null()) if prefixes else null()
        return case((ty == text_literal("array"), general), (ty.is_(None), when_missing),
                    else_=value)

    # -- $expr ------------------------------------------------------------------------------

    def expr_number(self, v: int | float, ev: ExprValue) -> None:
        ev.number = literal(self.column_number(v))

    def expr_column_number(self, col: Any, kind: str, ev: ExprValue) -> None:
        ev.number = col

    def expr_json_leaf(self, c: SqliteValue, ev: ExprValue) -> ColumnElement[Any]:
        ev.number = c.value_expr
        ev.text = c.value_expr
        return case((c.type_is("object", "array"), func.json(c.value_expr)), else_=null())

    def expr_json_literal(self, v: Any) -> ColumnElement[Any]:
        return literal(json.dumps(v, separators=(",", ":")))

    def json_of(self, c: SqliteValue) -> ColumnElement[Any]:
        t = c.type_expr
        return case((t.in_([text_literal("object"), text_literal("array")]), c.value_expr),
                    (t == text_literal("null"), text_literal("null")),
                    (t == text_literal("true"), text_literal("true")),
                    (t == text_literal("false"), text_literal("false")),
                    (t.is_not(None), func.json_quote(c.value_expr)), else_=null())

    def json_array_agg(self, inner: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.json_group_array(func.json(inner))

    def expr_arith(self, op: str, args: list[ExprValue], result: ExprValue) -> None:
        nums = [a.number if a.number is not None else as_sql(0) for a in args]
        if op == "$add":
            result.number = _fold(nums, lambda x, y: x + y)
        elif op == "$multiply":
            result.number = _fold(nums, lambda x, y: x * y)
        elif op == "$subtract":
            result.number = nums[0] - nums[1]
        elif op == "$divide":
            result.number = cast(nums[0], Float) / nums[1]
        elif op == "$mod":
            both_int = and_(func.typeof(nums[0]) == text_literal("integer"),
                            func.typeof(nums[1]) == text_literal("integer"))
            result.number = case((both_int, nums[0] % nums[1]), else_=func.mod(nums[0], nums[1]))

    def expr_number_compare(self, op: str, a: ExprValue, b: ExprValue) -> Cond:
        return compare(op, a.number, b.number)

    def expr_json_compare(self, op: str, a: Any, b: Any) -> Cond:
        return compare(op, func.bson_compare(a, b, type_=Integer), 0)

    def expr_raise(self, message: ColumnElement[Any]) -> Cond:
        return func.filter_error(message, type_=Boolean) == 1


def _fold(items: list[Any], fn: Any) -> Any:
    out = items[0]
    for x in items[1:]:
        out = fn(out, x)
    return out

