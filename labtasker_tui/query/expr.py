"""``$expr``: aggregation semantics (BSON total order, arithmetic on numbers only) in SQL.

Every operand compiles to an :class:`~.dialects.base.ExprValue`: its BSON rank in the row, and
its value as a number, text, date or JSON, whichever the rank needs; ``error`` marks rows where
MongoDB would raise (arithmetic on a non-number, a zero divisor) and ``message`` says why: the
statement then fails with that message (``Dialect.expr_raise``), as the query fails in MongoDB.
A literal MongoDB rejects is refused earlier, by the parser (:func:`.ir.arithmetic_error`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, case, false, func, literal, null, select, true
from sqlalchemy.sql.elements import ColumnElement

from labtasker_tui.query import ir
from labtasker_tui.query.bson import (
    RANK_ARRAY,
    RANK_BOOL,
    RANK_DATE,
    RANK_MISSING,
    RANK_NULL,
    RANK_NUMBER,
    RANK_OBJECT,
    RANK_STRING,
    literal_rank,
)
from labtasker_tui.query.columns import JSON_COLUMNS, OBJECT_COLUMNS, SCALAR_FIELDS
from labtasker_tui.query.compose import (
    PYTHON_COMPARISONS,
    Cond,
    all_of,
    any_of,
    as_sql,
    case_when,
    compare,
    negate,
)
from labtasker_tui.query.dialects.base import Dialect, ExprValue, JsonValue
from labtasker_tui.query.routes import Routes
from labtasker_tui.schema import tasks

_COLUMN_RANKS = {"string": RANK_STRING, "int": RANK_NUMBER, "double": RANK_NUMBER,
                 "date": RANK_DATE}
_ALL_JSON_RANKS = frozenset({RANK_MISSING, RANK_NULL, RANK_NUMBER, RANK_STRING, RANK_OBJECT,
                             RANK_ARRAY, RANK_BOOL})
_COMPARISONS = {"$eq": "eq", "$ne": "eq", "$gt": "gt", "$gte": "gte", "$lt": "lt",
                "$lte": "lte"}


def compile_expr(dialect: Dialect[Any], routes: Routes, node: ir.ExprNode) -> Cond:
    """The rows where the expression is truthy (and raises no error)."""
    return ExprCompiler(dialect, routes).top(node)


def _missing() -> ExprValue:
    return ExprValue(rank=RANK_MISSING, ranks=frozenset({RANK_MISSING}))


class ExprCompiler:
    def __init__(self, dialect: Dialect[Any], routes: Routes) -> None:
        self.dialect = dialect
        self.routes = routes

    def top(self, node: ir.ExprNode) -> Cond:
        ev = self.value(node)
        truth = func.coalesce(self.truthy(ev), false(), type_=Boolean)
        if ev.error is False:
            return truth
        return case((func.coalesce(as_sql(ev.error), false(), type_=Boolean),
                     self.dialect.expr_raise(ev.message)), else_=truth)

    def truthy(self, ev: ExprValue) -> Cond:
        if ev.truth is not None:
            truth: Cond = ev.truth
            return truth
        parts = [ev.rank.not_in([RANK_MISSING, RANK_NULL]) if not isinstance(ev.rank, int)
                 else as_sql(ev.rank not in (RANK_MISSING, RANK_NULL))]
        if RANK_NUMBER in ev.ranks or RANK_BOOL in ev.ranks:
            zero = self.dialect.expr_is_zero(ev)
            parts.append(negate(all_of(self._rank_in(ev, RANK_NUMBER, RANK_BOOL), zero)))
        return all_of(*parts)

    def _rank_in(self, ev: ExprValue, *ranks: int) -> Cond:
        if isinstance(ev.rank, int):
            return true() if ev.rank in ranks else false()
        rank: ColumnElement[Any] = ev.rank
        return rank.in_(list(ranks)) if len(ranks) > 1 else rank == ranks[0]

    # -- operands ---------------------------------------------------------------------------

    def value(self, node: ir.ExprNode) -> ExprValue:
        if isinstance(node, ir.EConst):
            return self.const(node.value)
        if isinstance(node, ir.EField):
            return self.field(node.path)
        op = node.op
        args = [self.value(a) for a in node.args]
        if op in ("$add", "$multiply", "$subtract", "$divide", "$mod"):
            return self.arith(op, args)
        if op in _COMPARISONS:
            return self.compare(op, args[0], args[1])
        if op in ("$and", "$or", "$not"):
            return self.logic(op, args)
        raise ValueError(f"unsupported $expr operator {op}")

    def const(self, v: Any) -> ExprValue:
        r = literal_rank(v)
        ev = ExprValue(rank=r, ranks=frozenset({r}))
        if r == RANK_NUMBER:
            self.dialect.expr_number(v, ev)
        elif r == RANK_BOOL:
            ev.number = as_sql(int(v))
        elif r == RANK_STRING:
            ev.text = literal(v)
        elif r == RANK_DATE:
            ev.date = literal(v, tasks.c.created_at.type)
        elif r in (RANK_OBJECT, RANK_ARRAY):
            ev.json = self.dialect.expr_json_literal(v)
        return ev

    def field(self, path: ir.Path) -> ExprValue:
        head = path[0]
        if head in SCALAR_FIELDS:
            if len(path) > 1:
                return _missing()
            col_name, kind = SCALAR_FIELDS[head]
            col = tasks.c[col_name]
            r = _COLUMN_RANKS[kind]
            ev = ExprValue(rank=case_when((col.is_(None), RANK_NULL), else_=r),
                           ranks=frozenset({RANK_NULL, r}))
            if kind in ("int", "double"):
                self.dialect.expr_column_number(col, kind, ev)
            elif kind == "string":
                ev.text = col
            else:
                ev.date = col
            return ev
        if head not in JSON_COLUMNS:
            return _missing()
        root = value = self.dialect.json_root(head)
        through_array = []
        if head not in OBJECT_COLUMNS and len(path) > 1:
            through_array.append(value.type_is("array"))
        for seg in path[1:-1]:
            value = value.key(seg)
            through_array.append(value.type_is("array"))
        if len(path) > 1:
            value = value.key(path[-1])
        leaf_rank = self.dialect.rank_of(value, RANK_MISSING)
        rank = case_when(*((cond, RANK_ARRAY) for cond in through_array), else_=leaf_rank) \
            if through_array else leaf_rank
        ev = ExprValue(rank=rank, ranks=_ALL_JSON_RANKS)
        leaf_json = self.dialect.expr_json_leaf(value, ev)
        if through_array:
            # an array on the way: the value is the array of what the rest of the path gives
            # in each object element (aggregation semantics, no index steps)
            ev.json = case((any_of(*through_array), self._gather(root, path[1:])),
                           else_=leaf_json)
        else:
            ev.json = leaf_json
        return ev

    def _gather(self, value: JsonValue, segs: ir.Path) -> ColumnElement[Any]:
        """``"$a.b.c"`` from ``value`` with aggregation semantics, as JSON (NULL = missing)."""
        if not segs:
            return self.dialect.json_of(value)
        obj = self._gather(value.key(segs[0]), segs[1:])
        alias, elem = value.elements()
        inner = self._gather(elem.key(segs[0]), segs[1:])
        where = all_of(elem.type_is("object"), inner.is_not(None))
        arr = select(self.dialect.json_array_agg(inner)).select_from(alias).where(where) \
            .scalar_subquery()
        return case((value.type_is("object"), obj), (value.type_is("array"), arr), else_=null())

    # -- errors -------------------------------------------------------------------------------

    @staticmethod
    def first_message(args: list[ExprValue]) -> ColumnElement[Any]:
        """The message of the first operand that raises (operands are evaluated in order)."""
        whens = [(as_sql(a.error), a.message) for a in args if a.error is not False]
        return case(*whens, else_=null()) if whens else null()

    def type_name(self, a: ExprValue) -> ColumnElement[Any]:
        """The BSON type name of a non-number operand (for messages)."""
        names = {RANK_STRING: "string", RANK_OBJECT: "object", RANK_ARRAY: "array",
                 RANK_BOOL: "bool", RANK_DATE: "date"}
        if isinstance(a.rank, int):
            return literal(names.get(a.rank, "number"))
        return case(*((a.rank == r, literal(n)) for r, n in names.items()),
                    else_=literal("number"))

    def not_numeric(self, op: str, a: ExprValue) -> ColumnElement[Any]:
        return literal(f"{op} only supports numeric types, not ") + self.type_name(a)

    # -- arithmetic ---------------------------------------------------------------------------

    def arith(self, op: str, args: list[ExprValue]) -> ExprValue:
        def nullish(a: ExprValue) -> Cond:
            return self._rank_in(a, RANK_MISSING, RANK_NULL)

        def bad(a: ExprValue) -> Cond:
            return negate(self._rank_in(a, RANK_MISSING, RANK_NULL, RANK_NUMBER))

        if op in ("$add", "$multiply"):
            # evaluated left to right: the first null(ish) operand makes the result null, a
            # non-number met before it is an error
            whens_err: list[tuple[Any, Any]] = []
            whens_null: list[tuple[Any, Any]] = []
            whens_msg: list[tuple[Any, Any]] = []
            for a in args:
                whens_err += [(as_sql(a.error), True), (nullish(a), False), (bad(a), True)]
                whens_null += [(as_sql(a.error), False), (nullish(a), True), (bad(a), False)]
                whens_msg += [(as_sql(a.error), a.message if a.error is not False else null()),
                              (nullish(a), null()), (bad(a), self.not_numeric(op, a))]
            err = case_when(*whens_err, else_=False)
            is_null = case_when(*whens_null, else_=False)
            message: Any = case(*whens_msg, else_=null())
        else:
            a, b = args
            is_null = any_of(nullish(a), nullish(b))
            err = any_of(as_sql(a.error), as_sql(b.error),
                         all_of(negate(is_null), any_of(bad(a), bad(b))))
            # read only where ``err`` holds: what is left then is a zero divisor
            message = case(*((as_sql(x.error), x.message) for x in args if x.error is not False),
                           (bad(a), self.not_numeric(op, a)), (bad(b), self.not_numeric(op, b)),
                           else_=literal(f"can't {op} by zero"))
        if op in ("$divide", "$mod"):
            zero = self.dialect.expr_is_zero(args[1])
            err = any_of(err, all_of(negate(is_null), negate(bad(args[0])),
                                     negate(bad(args[1])), zero))
        ev = ExprValue(rank=case_when((is_null, RANK_NULL), else_=RANK_NUMBER),
                       ranks=frozenset({RANK_NULL, RANK_NUMBER}))
        self.dialect.expr_arith(op, args, ev)
        ev.error = err
        ev.message = message
        return ev

    # -- comparison and logic -------------------------------------------------------------------

    def compare(self, op: str, a: ExprValue, b: ExprValue) -> ExprValue:
        mop = _COMPARISONS[op]
        same = self._same_rank_compare(mop, a, b)
        if isinstance(a.rank, int) and isinstance(b.rank, int):
            res = as_sql(PYTHON_COMPARISONS[mop](a.rank, b.rank)) if a.rank != b.rank else same
        else:
            ra, rb = as_sql(a.rank), as_sql(b.rank)
            if mop == "eq":
                res = all_of(ra == rb, same)
            else:
                strict = "gt" if mop in ("gt", "gte") else "lt"
                res = any_of(compare(strict, ra, rb), all_of(ra == rb, same))
        res = func.coalesce(res, false(), type_=Boolean)
        if op == "$ne":
            res = negate(res)
        return ExprValue(rank=RANK_BOOL, ranks=frozenset({RANK_BOOL}),
                         error=any_of(as_sql(a.error), as_sql(b.error)),
                         message=self.first_message([a, b]),
                         truth=res, number=case((res, 1), else_=0))

    def _same_rank_compare(self, op: str, a: ExprValue, b: ExprValue) -> ColumnElement[Any]:
        """a OP b assuming both have the same rank (a CASE over the possible ranks)."""
        whens = []
        for r in sorted(a.ranks & b.ranks):
            if r in (RANK_MISSING, RANK_NULL):
                val = as_sql(op in ("eq", "gte", "lte"))
            elif r == RANK_NUMBER:
                val = self.dialect.expr_number_compare(op, a, b)
            elif r == RANK_BOOL:
                val = compare(op, a.number, b.number)
            elif r == RANK_STRING:
                val = compare(op, self.dialect.order_text(a.text),
                              self.dialect.order_text(b.text))
            elif r == RANK_DATE:
                val = compare(op, a.date, b.date)
            elif a.json is None or b.json is None:
                val = false()
            else:
                val = self.dialect.expr_json_compare(op, a.json, b.json)
            whens.append((r, val))
        if not whens:
            return false()
        if isinstance(a.rank, int):
            known: ColumnElement[Any] = dict(whens).get(a.rank, false())
            return known
        return case(*((a.rank == r, v) for r, v in whens), else_=false())

    def logic(self, op: str, args: list[ExprValue]) -> ExprValue:
        truths = [func.coalesce(self.truthy(a), false(), type_=Boolean) for a in args]
        if op == "$not":
            res = negate(truths[0])
            err = as_sql(args[0].error)
        elif op == "$and":
            res = all_of(*truths)
            err = case_when(*[(w, t) for a, tr in zip(args, truths, strict=True)
                              for w, t in ((as_sql(a.error), True), (negate(tr), False))],
                            else_=False)
        else:
            res = any_of(*truths)
            err = case_when(*[(w, t) for a, tr in zip(args, truths, strict=True)
                              for w, t in ((as_sql(a.error), True), (tr, False))],
                            else_=False)
        return ExprValue(rank=RANK_BOOL, ranks=frozenset({RANK_BOOL}), truth=res, error=err,
                         message=self.first_message(args), number=case((res, 1), else_=0))
