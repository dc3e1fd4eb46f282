"""PostgreSQL: JSON values as ``jsonb`` expressions (``->`` steps, ``jsonb_array_elements`` for
arrays), regexes translated to PostgreSQL's ARE, strings compared with ``COLLATE "C"``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
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
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, Select, TableValuedAlias

from labtasker_tui.query.bson import (
    INT32,
    JSON_TYPE_RANKS,
    RANK_ARRAY,
    RANK_BOOL,
    RANK_NULL,
    RANK_NUMBER,
    RANK_OBJECT,
    RANK_STRING,
    has_date,
    has_nonfinite,
    is_inf,
    is_nan,
    literal_rank,
)
from labtasker_tui.query.compose import Cond, all_of, any_of, as_sql, compare, negate
from labtasker_tui.query.dialects.base import (
    ColumnValue,
    Dialect,
    ExprValue,
    JsonValue,
    text_literal,
)
from labtasker_tui.query.errors import RAISED_MARKER
from labtasker_tui.query.paths import pg_key_literal, sqlstr
from labtasker_tui.query.regexes import regex_to_postgres
from labtasker_tui.schema import tasks

#: JSON type names -> what jsonb_typeof() says (booleans are told apart by value).
_TYPE_NAMES = {
    "null": "null", "number": "number", "string": "string", "object": "object",
    "array": "array",
}
#: jsonb_typeof() -> BSON rank.
_RANKS = (("null", RANK_NULL), ("number", RANK_NUMBER), ("string", RANK_STRING),
          ("object", RANK_OBJECT), ("array", RANK_ARRAY), ("boolean", RANK_BOOL))


def jsonb_literal(text: str) -> ColumnElement[Any]:
    return literal_column(sqlstr(text) + "::jsonb", type_=JSONB)


def jsonb_param(value: Any) -> ColumnElement[Any]:
    return cast(literal(json.dumps(value, ensure_ascii=False), Text), JSONB)


def _is_double(text: Any) -> Cond:
    """The number's text has a fraction or an exponent (it was stored as a double)."""
    result: Cond = text.op("~", return_type=Boolean)(literal_column("'[.eE]'"))
    return result


class PostgresValue(JsonValue):
    """One ``jsonb`` expression."""

    def __init__(self, x: ColumnElement[Any]) -> None:
        self.x = x

    @property
    def type_expr(self) -> ColumnElement[Any]:
        return func.jsonb_typeof(self.x)

    def type_is(self, *names: str) -> Cond:
        conds = []
        plain = [_TYPE_NAMES[n] for n in names if n in _TYPE_NAMES]
        if "bool" in names or ("true" in names and "false" in names):
            plain.append("boolean")
        elif "true" in names:
            conds.append(self.x == jsonb_literal("true"))
        elif "false" in names:
            conds.append(self.x == jsonb_literal("false"))
        if len(plain) == 1:
            conds.append(self.type_expr == text_literal(plain[0]))
        elif plain:
            conds.append(self.type_expr.in_([text_literal(t) for t in plain]))
        return any_of(*conds)

    def present(self) -> Cond:
        return self.x.is_not(None)

    def missing(self) -> Cond:
        return self.x.is_(None)

    def key(self, k: str) -> PostgresValue:
        return PostgresValue(self.x.op("->", return_type=JSONB)(
            literal_column(pg_key_literal(k))))

    def index(self, i: int) -> PostgresValue:
        return PostgresValue(self.x.op("->", return_type=JSONB)(literal_column(str(i))))

    def guarded(self, typename: str) -> ColumnElement[Any]:
        return case((self.type_expr == text_literal(typename), self.x), else_=null())

    def elements(self) -> tuple[FromClause, PostgresValue]:
        arr = case((self.type_expr == text_literal("array"), self.x), else_=jsonb_literal("[]"))
        alias = func.jsonb_array_elements(type_coerce(arr, JSONB)).table_valued("value")
        return alias, PostgresValue(type_coerce(alias.c.value, JSONB))

    def array_length(self) -> ColumnElement[Any]:
        return func.jsonb_array_length(self.guarded("array"))

    def text(self) -> ColumnElement[Any]:
        return self.x.op("#>>", return_type=Text)(text_literal("{}"))

    def numeric(self) -> ColumnElement[Any]:
        return cast(self.guarded("number"), Numeric)


class PostgresDialect(Dialect[PostgresValue]):
    name = "postgresql"

    def own(self, c: JsonValue) -> PostgresValue:
        if not isinstance(c, PostgresValue):
            raise TypeError(f"not a PostgreSQL value: {c!r}")
        return c

    def json_root(self, col: str) -> PostgresValue:
        return PostgresValue(type_coerce(tasks.c[col], JSONB))

    def absent(self) -> PostgresValue:
        return PostgresValue(cast(null(), JSONB))

    def index_expression(self, path: Sequence[str], table: Any = tasks) -> ColumnElement[Any]:
        col, *keys = path
        x: ColumnElement[Any] = type_coerce(table.c[col], JSONB)
        for k in keys:
            x = x.op("->", return_type=JSONB)(literal_column(pg_key_literal(k)))
        return x

    def array_range(self, x: ColumnElement[Any]) -> Cond:
        # jsonb orders arrays after booleans and before objects
        return and_(x > jsonb_literal("true"), x < jsonb_literal("{}"))

    def order_text(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        return x.collate("C")

    # -- comparisons ------------------------------------------------------------------------

    def number_compare(self, c: PostgresValue, op: str, v: int | float) -> Cond:
        if is_nan(v):
            return false()
        if is_inf(v):
            return self.infinite_compare(c, op, v)
        x = c.x
        if op == "eq":
            return x == jsonb_param(v)
        cond = all_of(c.type_is("number"), compare(op, x, jsonb_param(v)))
        if op in ("gt", "gte"):
            cond = all_of(cond, x < jsonb_literal("false"))  # numbers sort below booleans
        return cond

    def string_compare(self, c: PostgresValue, op: str, v: str) -> Cond:
        if op == "eq":
            return c.x == jsonb_param(v)
        return all_of(c.type_is("string"), compare(op, c.text().collate("C"), literal(v)))

    def struct_equal(self, c: PostgresValue, v: Any) -> Cond:
        if has_date(v) or has_nonfinite(v):
            return false()  # JSON holds neither dates nor NaN/Infinity
        return c.x == jsonb_param(v)

    def struct_order(self, c: PostgresValue, op: str, v: list[Any] | dict[str, Any]) -> Cond:
        if isinstance(v, list):
            return self._array_order(c, op, v)
        if has_date(v):
            return false()
        if not v:
            return {"gt": all_of(c.type_is("object"), c.x != jsonb_literal("{}")),
                    "gte": c.type_is("object"), "lt": false(),
                    "lte": self.struct_equal(c, v)}[op]
        # jsonb's own object order (approximates BSON's)
        return all_of(c.type_is("object"), compare(op, c.x, jsonb_param(v)))

    def _array_order(self, c: PostgresValue, op: str, v: list[Any]) -> Cond:
        """BSON order of an array value against an array literal (lexicographic)."""
        if op in ("lte", "gte"):
            return any_of(self._array_order(c, op[:2], v), self.struct_equal(c, v))
        # c > v  <=>  exists i: c[:i] == v[:i] and (c[i] > v[i] or (i == len(v) and len(c) > i))
        parts = []
        for i in range(len(v) + 1):
            prefix = [self.struct_equal(c.index(j), v[j]) for j in range(i)]
            if i == len(v):
                tail = c.array_length() > i if op == "gt" else false()
            else:
                tail = self._element_order(c.index(i), op, v[i], c.array_length() > i)
            parts.append(all_of(*prefix, tail))
        return all_of(c.type_is("array"), any_of(*parts))

    def _element_order(self, e: PostgresValue, op: str, v: Any, exists: Any) -> Cond:
        """Element ``e`` (which may not exist: then it sorts first) vs literal ``v``, with the
        cross-type BSON order."""
        rank_v = literal_rank(v)
        comparable = not isinstance(v, (list, dict)) or v == [] or v == {}
        if op == "gt":
            higher = [n for n, r in JSON_TYPE_RANKS.items() if r > rank_v]
            cross = e.type_is(*higher) if higher else false()
            same = self.compare(e, "gt", v) if comparable else false()
            return all_of(exists, any_of(cross, same))
        lower = [n for n, r in JSON_TYPE_RANKS.items() if r < rank_v]
        cross = e.type_is(*lower) if lower else false()
        same = self.compare(e, "lt", v) if comparable else false()
        return any_of(negate(exists), cross, same)

    # -- $in --------------------------------------------------------------------------------

    def _json_table(self, values: list[Any], *, text: bool) -> TableValuedAlias:
        doc = literal(json.dumps(values, ensure_ascii=False), Text)
        fn = func.jsonb_array_elements_text if text else func.jsonb_array_elements
        return fn(cast(doc, JSONB)).table_valued("value")

    def json_list(self, values: list[Any], *, text: bool = False) -> Select[Any]:
        table = self._json_table(values, text=text)
        return select(table.c.value if text else type_coerce(table.c.value, JSONB))

    def column_in_numbers(self, c: ColumnValue, numbers: list[Any]) -> Cond:
        table = self._json_table(numbers, text=True)
        return c.col.in_(select(cast(table.c.value, Numeric)))

    def json_in(self, c: PostgresValue, strings: list[str], numbers: list[Any]) -> list[Cond]:
        scalars = strings + numbers
        return [c.x.in_(self.json_list(scalars))] if scalars else []

    # -- other leaf predicates ---------------------------------------------------------------

    def regex_match(self, text: Any, pattern: str, flags: str) -> Cond:
        result: Cond = text.op("~", return_type=Boolean)(
            literal(regex_to_postgres(pattern, flags)))
        return result

    def mod(self, c: ColumnValue | JsonValue, divisor: int, remainder: int) -> Cond:
        x: ColumnElement[Any]
        is_number: Cond
        if isinstance(c, ColumnValue):
            if c.kind not in ("int", "double"):
                return false()
            x, is_number = cast(c.col, Numeric), c.col.is_not(None)
        else:
            x, is_number = self.own(c).numeric(), c.type_is("number")
        whole = func.trunc(x)  # toward zero; mod() keeps the dividend's sign
        return all_of(is_number, whole >= self.column_number(-(2**63)),
                      whole < self.column_number(2**63),
                      func.mod(whole, self.column_number(divisor))
                      == self.column_number(remainder))

    def number_kind(self, c: PostgresValue, kind: str) -> Cond:
        is_double = _is_double(c.text())
        if kind == "double":
            return all_of(c.type_is("number"), is_double)
        in32 = c.numeric().between(*INT32)
        return all_of(c.type_is("number"), negate(is_double),
                      in32 if kind == "int" else negate(in32))

    def column_number(self, v: int | float) -> ColumnElement[Any] | int | float:
        return cast(literal(repr(v) if isinstance(v, float) else str(v), Text), Numeric)

    # -- sorting ----------------------------------------------------------------------------

    def rank_of(self, c: PostgresValue, missing: int) -> ColumnElement[Any]:
        t = c.type_expr
        return case(*((t == text_literal(n), as_sql(r)) for n, r in _RANKS),
                    else_=as_sql(missing))

    def sort_columns(self, c: PostgresValue) -> tuple[Any, Any, Any]:
        t = c.type_expr
        as_bool = case((c.x == jsonb_literal("true"), literal_column("1", Numeric)),
                       else_=literal_column("0", Numeric))
        num = case((t == text_literal("number"), c.numeric()),
                   (t == text_literal("boolean"), as_bool), else_=cast(null(), Numeric))
        text = case((t.in_([text_literal(n) for n in ("string", "object", "array")]),
                     c.text().collate("C")), else_=cast(null(), Text))
        return self.rank_of(c, RANK_NULL), num, text

    # -- $expr ------------------------------------------------------------------------------

    def expr_number(self, v: int | float, ev: ExprValue) -> None:
        ev.number = self.column_number(v)
        ev.float_number = literal(float(v), DOUBLE_PRECISION)
        ev.is_double = isinstance(v, float)

    def expr_column_number(self, col: Any, kind: str, ev: ExprValue) -> None:
        ev.number = cast(col, Numeric)
        ev.float_number = cast(col, DOUBLE_PRECISION)
        ev.is_double = kind == "double"

    def expr_json_leaf(self, c: PostgresValue, ev: ExprValue) -> ColumnElement[Any]:
        ev.number = case((c.type_is("number"), c.numeric()),
                         (c.type_is("true"), literal(1, Numeric)), else_=literal(0, Numeric))
        ev.float_number = cast(ev.number, DOUBLE_PRECISION)
        ev.is_double = all_of(c.type_is("number"), _is_double(c.text()))
        ev.text = c.text()
        return c.x

    def expr_json_literal(self, v: Any) -> ColumnElement[Any]:
        return jsonb_param(v)

    def json_of(self, c: PostgresValue) -> ColumnElement[Any]:
        return c.x

    def json_array_agg(self, inner: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(func.jsonb_agg(inner), jsonb_literal("[]"))

    def expr_arith(self, op: str, args: list[ExprValue], result: ExprValue) -> None:
        nums = [a.number if a.number is not None else as_sql(0) for a in args]
        floats = [a.float_number if a.float_number is not None
                  else literal(0.0, DOUBLE_PRECISION) for a in args]
        result.is_double = any_of(*(as_sql(a.is_double) for a in args))
        if op == "$add":
            result.number, result.float_number = _fold(nums, "+"), _fold(floats, "+")
        elif op == "$multiply":
            result.number, result.float_number = _fold(nums, "*"), _fold(floats, "*")
        elif op == "$subtract":
            result.number, result.float_number = nums[0] - nums[1], floats[0] - floats[1]
        elif op == "$divide":
            result.is_double = true()
            result.float_number = floats[0] / func.nullif(floats[1], 0)
        elif op == "$mod":
            result.number = func.mod(nums[0], func.nullif(nums[1], 0))
            result.float_number = floats[0] - floats[1] * func.trunc(
                floats[0] / func.nullif(floats[1], 0))
        # a double result: float8 arithmetic, its exact(ish) numeric is its shortest text
        # (float8 -> numeric directly keeps 15 digits); an integer result: exact numeric
        exact = cast(cast(result.float_number, Text), Numeric)
        if op == "$divide":
            result.number = exact
        else:
            dbl = as_sql(result.is_double)
            result.number, result.float_number = (
                case((dbl, exact), else_=result.number),
                case((dbl, result.float_number), else_=cast(result.number, DOUBLE_PRECISION)))

    def expr_is_zero(self, a: ExprValue) -> Cond:
        if a.float_number is None:
            return compare("eq", a.number, 0)
        return case((as_sql(a.is_double), a.float_number == 0), else_=a.number == 0)

    def expr_number_compare(self, op: str, a: ExprValue, b: ExprValue) -> Cond:
        # doubles compare as float8; an int and a double that are equal as float8 are told
        # apart exactly (MongoDB compares long and double exactly)
        strict = {"gt": "gt", "gte": "gt", "lt": "lt", "lte": "lt"}.get(op)
        tie = all_of(a.float_number == b.float_number, compare(op, a.number, b.number))
        as_double = tie if strict is None else any_of(
            compare(strict, a.float_number, b.float_number), tie)
        return case((any_of(as_sql(a.is_double), as_sql(b.is_double)), as_double),
                    else_=compare(op, a.number, b.number))

    def expr_json_compare(self, op: str, a: Any, b: Any) -> Cond:
        return compare(op, a, b)  # jsonb order: exact for ==, approximate otherwise

    def expr_raise(self, message: ColumnElement[Any]) -> Cond:
        # plain SQL cannot RAISE: a cast that fails puts the text in the database's message
        text = literal(RAISED_MARKER, Text) + message
        return cast(text, Integer) == 0


def _fold(items: list[Any], op: str) -> Any:
    out = items[0]
    for x in items[1:]:
        out = out + x if op == "+" else out * x
    return out
