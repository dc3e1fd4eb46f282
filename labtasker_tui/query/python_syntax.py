"""Python-native filter syntax -> MongoDB query dict (spec §4.2-4.5).

The text is parsed with :mod:`ast` and only whitelisted node shapes are translated; nothing is
ever evaluated. Every rejection is a :class:`FilterError` pointing at the offending node.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from labtasker_tui.fields import FIELD_ORDER
from labtasker_tui.query.dates import parse_date
from labtasker_tui.query.errors import FilterError, split_lines
from labtasker_tui.query.ir import arithmetic_error

__all__ = ["ALLOWED_ROOTS", "python_to_mongo"]

#: First segment of every field path. [REC] upstream's ``worker_name`` is dropped (never matched).
ALLOWED_ROOTS: tuple[str, ...] = FIELD_ORDER

_CMP_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "$eq",
    ast.Gt: "$gt",
    ast.GtE: "$gte",
    ast.Lt: "$lt",
    ast.LtE: "$lte",
}
#: ``literal OP field`` is rewritten as ``field MIRROR[OP] literal``.
_MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.Eq,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
}
_ARITH: dict[type[ast.operator], str] = {
    ast.Add: "$add",
    ast.Sub: "$subtract",
    ast.Mult: "$multiply",
    ast.Div: "$divide",
    ast.Mod: "$mod",
}

_NEGATION_ADVICE = (
    "as it may lead to ambiguous behaviour due to the missing key returning null problem. "
    "If you wish to use {op}, use the full mongodb query and handle the $exists manually"
)
_MSG_NE = "'!=' operator is not supported, " + _NEGATION_ADVICE.format(op="$ne")
_MSG_NOT = "'not' is not supported, " + _NEGATION_ADVICE.format(op="$ne")
_MSG_NOT_IN = "'not in' operator is not supported, " + _NEGATION_ADVICE.format(op="$nin")
_MSG_CHAINED = "Chained comparisons not supported (e.g., a < b < c)"
_MSG_AMBIGUOUS_IN = (
    "Ambiguous expression. To use 'foo' in foo.bar, you must specify the type of foo.bar via "
    "'foo' in list(foo.bar) or 'foo' in dict(foo.bar)"
)
_MSG_IN_SIDES = (
    "For 'field in [literals]' pattern or literal in dict(field) pattern, both sides must be "
    "either a field or a list of literals"
)
_MSG_BINOP_OUTSIDE = (
    "Binary operations like '+' or '-' must be used in comparisons for $expr. "
    "E.g. allowed: '1 + 1 > foo', disallowed: 1 + 1"
)
_MSG_EXISTS_ARGS = (
    "exists() requires one or two arguments: field name and optional boolean value. "
    'E.g. exists("optional_field"), exists("field", False)'
)
_MSG_DATE_ARG = (
    "date() argument must be a literal string, e.g. date('2025-07-25 23:41') or date('3 hours ago')"
)
_MSG_SET = "Set literals are not supported; use a list instead, e.g. status in ['pending', 'done']"
_MSG_FSTRING = "f-strings are not supported; use a plain string literal"
_MSG_EXPECTED_EXPR = "Expected an expression in the module"
_MSG_NESTED = "Query is too deeply nested"
_MAX_SNIPPET = 60  # longest piece of user source quoted inside a message


@dataclass(frozen=True, slots=True)
class _Field:
    path: str


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Expr:
    """An aggregation expression for ``$expr`` and the field paths it reads, in order."""

    expr: Any
    fields: tuple[str, ...]


_Operand = _Field | _Literal | _Expr
_FIELD_NODES = (ast.Name, ast.Attribute, ast.Subscript)


def python_to_mongo(text: str) -> dict[str, Any]:
    """Transpile a Python-syntax filter (e.g. ``args.lr > 0.01 and status == 'failed'``).

    Returns a MongoDB query dict with JSON-compatible values, except ``date()`` results
    (aware UTC ``datetime``), ints of any size, and ``inf`` from literals such as ``1e999``.
    Raises FilterError (with line/column of the offending node where known).
    """
    return _Transpiler(text).run()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Transpiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.source = text.strip()
        # The parsed source is stripped; positions are mapped back to the original text.
        leading = text[: len(text) - len(text.lstrip())]
        leading_lines = split_lines(leading)
        self._line_shift = len(leading_lines) - 1
        self._col_shift = len(leading_lines[-1])
        self._lines = split_lines(self.source)

    # ---- errors and positions -------------------------------------------------------------

    def _fail(self, node: ast.AST | None, message: str) -> NoReturn:
        if node is None or not hasattr(node, "lineno"):
            raise FilterError(message, self.text, None)
        line, column = self._position(node.lineno, getattr(node, "col_offset", 0),
                                      byte_offset=True)
        raise FilterError(message, self.text, column, line)

    def _position(self, lineno: int, offset: int, *, byte_offset: bool) -> tuple[int, int]:
        """(1-based line, 1-based column) in the original text for a parsed-source position."""
        col = offset
        if byte_offset and 1 <= lineno <= len(self._lines):  # ast offsets count UTF-8 bytes
            raw = self._lines[lineno - 1].encode("utf-8")[:offset]
            col = len(raw.decode("utf-8", errors="ignore"))
        if lineno == 1:
            col += self._col_shift
        return lineno + self._line_shift, col + 1

    def _src(self, node: ast.AST) -> str:
        snippet = ast.get_source_segment(self.source, node) or type(node).__name__
        snippet = " ".join(snippet.split())
        if len(snippet) > _MAX_SNIPPET:
            snippet = snippet[: _MAX_SNIPPET - 3] + "..."
        return snippet

    # ---- entry point ----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if not self.source:
            raise FilterError(_MSG_EXPECTED_EXPR, self.text, None)
        try:
            tree = ast.parse(self.source, mode="exec")
        except SyntaxError as exc:
            column = line = None
            if exc.lineno is not None and exc.offset is not None and exc.offset > 0:
                line, column = self._position(exc.lineno, exc.offset - 1, byte_offset=False)
            # exc.msg, not str(exc): that adds Python's "(<unknown>, line 1)"
            msg = exc.msg or "invalid syntax"
            if msg == "invalid syntax" and self._at_end(exc):
                msg = "the filter ends too early (a value or ')' is missing)"
            raise FilterError(f"Query syntax error: {msg}", self.text, column, line or 1) from None
        except ValueError as exc:  # e.g. NUL bytes in the source
            raise FilterError(f"Query syntax error: {exc}", self.text, None) from None
        except (RecursionError, MemoryError):
            raise FilterError(_MSG_NESTED, self.text, None) from None
        try:
            return self._module(tree)
        except RecursionError:
            raise FilterError(_MSG_NESTED, self.text, None) from None

    def _at_end(self, exc: SyntaxError) -> bool:
        """Whether the syntax error points past the last non-blank character."""
        lines = self.source.splitlines() or [""]
        if exc.lineno is None or exc.offset is None:
            return False
        if exc.lineno > len(lines):
            return True
        rest = "\n".join([lines[exc.lineno - 1][exc.offset - 1:], *lines[exc.lineno:]])
        return not rest.strip()

    def _module(self, tree: ast.Module) -> dict[str, Any]:
        if not tree.body:  # only comments
            raise FilterError(_MSG_EXPECTED_EXPR, self.text, None)
        if len(tree.body) > 1:  # [BUG] upstream silently ignored everything after the first
            self._fail(
                tree.body[1],
                "Only one expression is allowed, found a second statement; "
                "combine conditions with 'and' / 'or'",
            )
        stmt = tree.body[0]
        if isinstance(stmt, ast.Assign):
            target = " = ".join(self._src(t) for t in stmt.targets)
            if len(stmt.targets) == 1:
                hint = f" Suggested correction: {target} == {self._src(stmt.value)}"
            else:
                hint = ""
            self._fail(
                stmt,
                f"Assignment '{target} = ...' not allowed in query. If you meant to check "
                f"equality, use '==' instead of '='.{hint}",
            )
        if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
            self._fail(stmt, "Assignment not allowed in query; use '==' to check equality")
        if not isinstance(stmt, ast.Expr):
            self._fail(stmt, _MSG_EXPECTED_EXPR)
        return self._top(stmt.value)

    def _top(self, node: ast.expr) -> dict[str, Any]:
        """The whole query: a condition, or a bare bool/int (match all / match none)."""
        if self._is_literal_node(node):
            value = self._literal(node)
            if isinstance(value, int):  # bools included
                return {"$expr": bool(value)}
            self._fail(
                node,
                f"Invalid query result: {self._src(node)}. Query must evaluate to a dictionary.",
            )
        if isinstance(node, ast.Set | ast.JoinedStr):
            self._literal(node)  # raises the specific error
        if isinstance(node, ast.Dict):
            self._fail(
                node,
                "A dict here is not a Python-syntax filter; write a MongoDB filter as a JSON "
                "object or a Python dict of literals instead",
            )
        if isinstance(node, _FIELD_NODES):
            self._path(node)  # unknown roots are reported first
            self._fail(
                node,
                f"Invalid query result: {self._src(node)}. Query must evaluate to a dictionary.",
            )
        return self._condition(node)

    # ---- conditions -----------------------------------------------------------------------

    def _condition(self, node: ast.expr) -> dict[str, Any]:
        if isinstance(node, ast.BoolOp):
            op = "$and" if isinstance(node.op, ast.And) else "$or"
            return {op: [self._condition(value) for value in node.values]}
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._condition_call(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._fail(node, _MSG_NOT)
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                self._fail(node, "Use 'and' / 'or' instead of '&' / '|' to combine conditions")
            self._fail(node, _MSG_BINOP_OUTSIDE)
        if self._is_literal_node(node) or isinstance(node, ast.Dict | ast.Set | ast.JoinedStr):
            # [BUG] upstream put the bare literal into the $and/$or list
            self._fail(
                node,
                f"A constant ({self._src(node)}) cannot be combined with 'and' / 'or'; "
                "each operand must be a condition such as a comparison, 'in', regex() "
                "or exists()",
            )
        if isinstance(node, _FIELD_NODES):
            self._path(node)
            self._fail(
                node,
                f"Expected a condition (a comparison, 'in', regex() or exists()), "
                f"got the field {self._src(node)}",
            )
        self._unsupported(node)

    def _unsupported(self, node: ast.AST) -> NoReturn:
        self._fail(node, f"Unsupported expression: {type(node).__name__} ({self._src(node)})")

    def _compare(self, node: ast.Compare) -> dict[str, Any]:
        if len(node.ops) > 1:
            self._fail(node, _MSG_CHAINED)
        op = node.ops[0]
        left, right = node.left, node.comparators[0]
        if isinstance(op, ast.NotEq):
            self._fail(node, _MSG_NE)
        if isinstance(op, ast.NotIn):
            self._fail(node, _MSG_NOT_IN)
        if isinstance(op, ast.In):
            return self._membership(node, left, right)
        if type(op) not in _CMP_OPS:  # is / is not
            self._fail(node, f"Unsupported comparison operator: {type(op)}")

        lhs, rhs = self._operand(left), self._operand(right)
        op_type = type(op)
        if isinstance(lhs, _Field) and isinstance(rhs, _Literal):
            return self._field_vs_literal(lhs.path, op_type, rhs.value)
        if isinstance(lhs, _Literal) and isinstance(rhs, _Field):
            return self._field_vs_literal(rhs.path, _MIRROR[op_type], lhs.value)
        if isinstance(lhs, _Literal) and isinstance(rhs, _Literal):
            self._fail(node, "A comparison must involve at least one field")
        return self._expr_comparison(node, _CMP_OPS[op_type], lhs, rhs)

    @staticmethod
    def _field_vs_literal(path: str, op: type[ast.cmpop], value: Any) -> dict[str, Any]:
        if op is ast.Eq:
            return {path: value}
        return {path: {_CMP_OPS[op]: value}}

    def _expr_comparison(
        self, node: ast.Compare, mongo_op: str, lhs: _Operand, rhs: _Operand
    ) -> dict[str, Any]:
        """``$expr`` guarded by ``$exists`` for each referenced path (a prefix of another is
        dropped), so missing fields never satisfy the comparison."""
        left = self._as_expr(lhs, node.left)
        right = self._as_expr(rhs, node.comparators[0])
        seen = list(dict.fromkeys(left.fields + right.fields))
        if not seen:
            self._fail(node, "A comparison must involve at least one field")
        guards = [
            {path: {"$exists": True}}
            for path in seen
            if not any(other.startswith(path + ".") for other in seen)
        ]
        return {"$and": [*guards, {"$expr": {mongo_op: [left.expr, right.expr]}}]}

    def _as_expr(self, operand: _Operand, node: ast.expr) -> _Expr:
        if isinstance(operand, _Expr):
            return operand
        if isinstance(operand, _Field):
            return _Expr(f"${operand.path}", (operand.path,))
        value = operand.value
        if not (_is_number(value) or isinstance(value, dt.datetime)):
            # strings could be read as "$paths", lists/dicts as expressions: keep $expr numeric
            self._fail(
                node,
                "Only numbers and date() can be used in arithmetic or field-to-field "
                f"comparisons ($expr), got: {self._src(node)}",
            )
        return _Expr(value, ())

    # ---- operands -------------------------------------------------------------------------

    def _operand(self, node: ast.expr) -> _Operand:
        if isinstance(node, _FIELD_NODES):
            return _Field(self._path(node))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self._fail(node, _MSG_NOT)
            if not isinstance(node.op, ast.USub):
                self._fail(node, f"Unsupported unary operator: {type(node.op)}")
            inner = self._operand(node.operand)
            if isinstance(inner, _Literal):  # -(5) folds to -5
                if not _is_number(inner.value):
                    self._fail(node, f"Unary minus needs a number, got: {self._src(node.operand)}")
                return _Literal(-inner.value)
            inner_expr = self._as_expr(inner, node.operand)
            return _Expr({"$multiply": [-1, inner_expr.expr]}, inner_expr.fields)
        if isinstance(node, ast.BinOp):
            mongo_op = _ARITH.get(type(node.op))
            if mongo_op is None:
                self._fail(node, f"Unsupported binary operator: {type(node.op)}")
            operands = (self._operand(node.left), self._operand(node.right))
            for i, (side, sub) in enumerate(zip((node.left, node.right), operands, strict=True)):
                # a zero divisor, with the caret on it (other literals: _as_expr's rules; a
                # date goes on to the Mongo form as Labtasker writes it)
                why = arithmetic_error(mongo_op, i, sub.value) \
                    if isinstance(sub, _Literal) and _is_number(sub.value) else None
                if why is not None:
                    self._fail(side, why)
            left = self._as_expr(operands[0], node.left)
            right = self._as_expr(operands[1], node.right)
            return _Expr({mongo_op: [left.expr, right.expr]}, left.fields + right.fields)
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name == "date":
                return _Literal(self._date(node))
            if name in ("regex", "exists"):
                self._fail(node, f"{name}() is a condition on its own and cannot be compared")
            if name in ("list", "dict"):
                self._fail(
                    node,
                    f"{name}() is only allowed on the right of 'in', "
                    f"e.g. 'a' in {name}(metadata.tags)",
                )
            self._unsupported_call(node)
        if isinstance(node, ast.Constant | ast.List | ast.Tuple | ast.Dict | ast.Set):
            return _Literal(self._literal(node))
        if isinstance(node, ast.JoinedStr):
            self._fail(node, _MSG_FSTRING)
        self._unsupported(node)

    def _is_literal_node(self, node: ast.expr) -> bool:
        """Constants, lists and tuples (dicts are handled apart), and negated constants."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self._is_literal_node(node.operand)
        return isinstance(node, ast.Constant | ast.List | ast.Tuple)

    def _literal(self, node: ast.expr) -> Any:
        """A JSON-compatible value from a literal node (tuples become lists)."""
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or isinstance(value, bool | int | str):
                return value
            if isinstance(value, float):
                if math.isnan(value):  # not reachable from literals, kept as a guard
                    self._fail(node, "NaN is not supported")
                return value
            self._fail(node, f"Unsupported literal: {type(value).__name__} {self._src(node)}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._literal(node.operand)
            if not _is_number(value):
                self._fail(node, f"Unary minus needs a number, got: {self._src(node.operand)}")
            return -value
        if isinstance(node, ast.List | ast.Tuple):
            return [self._literal(elt) for elt in node.elts]
        if isinstance(node, ast.Dict):
            result: dict[str, Any] = {}
            for key, item in zip(node.keys, node.values, strict=True):
                if key is None:
                    self._fail(item, "Dict unpacking (**) is not supported in literals")
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    self._fail(key, f"Dict keys must be string literals, got: {self._src(key)}")
                if key.value.startswith("$"):
                    self._fail(
                        key,
                        f"Dict keys starting with '$' are not allowed in literals "
                        f"({key.value!r} would be read as a MongoDB operator)",
                    )
                result[key.value] = self._literal(item)
            return result
        if isinstance(node, ast.Set):
            self._fail(node, _MSG_SET)
        if isinstance(node, ast.JoinedStr):
            self._fail(node, _MSG_FSTRING)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "date":
                return self._date(node)
        if isinstance(node, ast.Starred):
            self._fail(node, "Unpacking (*) is not supported in literals")
        self._fail(node, f"Lists and dicts may contain only literals, got: {self._src(node)}")

    def _date(self, node: ast.Call) -> dt.datetime:
        if (
            len(node.args) != 1
            or node.keywords
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            self._fail(node, _MSG_DATE_ARG)
        try:
            return parse_date(node.args[0].value)
        except FilterError as exc:
            self._fail(node.args[0], exc.message)

    # ---- field paths ----------------------------------------------------------------------

    def _path(self, node: ast.expr) -> str:
        """``a.b['c-d'][0]`` -> ``"a.b.c-d.0"``; only the root is checked against the whitelist."""
        parts: list[str] = []
        cur: ast.expr = node
        while True:
            if isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            elif isinstance(cur, ast.Subscript):
                parts.append(self._subscript_key(cur.slice))
                cur = cur.value
            elif isinstance(cur, ast.Name):
                self._check_root(cur.id, cur)
                parts.append(cur.id)
                break
            elif isinstance(cur, ast.Call):
                self._unsupported_call(cur)
            else:
                self._fail(cur, f"Unsupported attribute access: {self._src(cur)}")
        return ".".join(reversed(parts))

    def _subscript_key(self, key: ast.expr) -> str:
        if isinstance(key, ast.Constant):
            value = key.value
            if isinstance(value, str):
                self._check_segments(value, key)
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)  # non-negative: -1 parses as UnaryOp
            self._fail(
                key,
                "Only string and integer subscripts are supported, "
                f"got: {type(value).__name__} with value {value!r}",
            )
        if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub):
            detail = ""
            if isinstance(key.operand, ast.Constant):
                detail = f" (value: -{key.operand.value!r})"
            elif isinstance(key.operand, ast.Name):
                detail = f" (variable: -{key.operand.id})"
            self._fail(key, f"Negative indexing is not supported{detail}")
        if isinstance(key, ast.Name):
            self._fail(key, f"Variable subscript is not supported in MongoDB queries: {key.id}")
        self._fail(key, f"Unsupported subscript type: {type(key).__name__}")

    def _check_segments(self, key: str, node: ast.AST) -> None:
        for segment in key.split("."):
            if not segment:
                self._fail(node, f"Empty key in field path: {key!r}")
            if segment.startswith("$"):
                self._fail(node, f"Field path segments cannot start with '$': {key!r}")

    def _check_root(self, root: str, node: ast.AST) -> None:
        if root in ALLOWED_ROOTS:
            return
        message = f"Field '{root}' is unknown or not allowed."
        if root in ("true", "false", "null"):
            message += " Python literals are spelled True, False and None."
        else:
            close = difflib.get_close_matches(root, ALLOWED_ROOTS, n=1)
            if close:
                message += f" Maybe you meant '{close[0]}'?"
        message += f" Allowed fields: {', '.join(ALLOWED_ROOTS)}"
        self._fail(node, message)

    def _string_path(self, node: ast.Constant) -> str:
        """A field path written as a string, e.g. ``exists('args.x')``."""
        path = node.value
        assert isinstance(path, str)  # the caller checked
        self._check_segments(path, node)
        self._check_root(path.split(".", 1)[0], node)
        return path

    def _field_arg(self, node: ast.expr, func: str) -> str:
        if isinstance(node, _FIELD_NODES):
            return self._path(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self._string_path(node)
        # [BUG] upstream accepted exists(1) / exists(date(...)) and produced a non-string key
        self._fail(
            node,
            f"{func}() first argument must be a field, e.g. {func}(args.x), "
            f"or a field path string, e.g. {func}('args.x'); got: {self._src(node)}",
        )

    # ---- calls and membership -------------------------------------------------------------

    def _unsupported_call(self, node: ast.Call) -> NoReturn:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else self._src(func)
        self._fail(node, f"Unsupported function call: {name}")

    def _condition_call(self, node: ast.Call) -> dict[str, Any]:
        if not isinstance(node.func, ast.Name):
            self._unsupported_call(node)
        name = node.func.id
        if name == "regex":
            if len(node.args) != 2 or node.keywords:
                self._fail(node, "regex() requires two arguments: field name and pattern")
            path = self._field_arg(node.args[0], "regex")
            pattern_node = node.args[1]
            if not (isinstance(pattern_node, ast.Constant) and isinstance(pattern_node.value, str)):
                # [BUG] upstream accepted a field as the pattern
                self._fail(
                    pattern_node,
                    f"regex() pattern must be a string literal, got: {self._src(pattern_node)}",
                )
            pattern = pattern_node.value
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:
                self._fail(pattern_node, f"Invalid regular expression {pattern!r}: {exc}")
            return {path: {"$regex": pattern}}
        if name == "exists":
            if not 1 <= len(node.args) <= 2 or node.keywords:
                self._fail(node, _MSG_EXISTS_ARGS)
            path = self._field_arg(node.args[0], "exists")
            flag: Any = True
            if len(node.args) == 2:
                # any literal, passed on as Labtasker does: $exists reads it as BSON's
                # trueValue (False, 0 and None are false; everything else true)
                flag_node = node.args[1]
                if isinstance(flag_node, (*_FIELD_NODES, ast.Call)):
                    self._fail(
                        flag_node,
                        f"exists() second argument must be a value such as True or False, "
                        f"got: {self._src(flag_node)}",
                    )
                flag = self._literal(flag_node)
            return {path: {"$exists": flag}}
        if name in ("list", "dict"):
            self._fail(
                node,
                f"{name}() is only allowed on the right of 'in', e.g. 'a' in {name}(metadata.tags)",
            )
        if name == "date":
            self._fail(
                node, "date() is a value; compare a field with it, e.g. created_at >= date(...)"
            )
        self._unsupported_call(node)

    def _membership(self, node: ast.Compare, left: ast.expr, right: ast.expr) -> dict[str, Any]:
        if isinstance(right, _FIELD_NODES):
            self._path(right)
            self._fail(node, _MSG_AMBIGUOUS_IN)
        if isinstance(right, ast.Call):
            return self._membership_call(node, left, right)
        if isinstance(right, ast.Set):
            self._fail(right, _MSG_SET)
        if isinstance(right, ast.List | ast.Tuple) and isinstance(left, _FIELD_NODES):
            return {self._path(left): {"$in": self._literal(right)}}
        self._fail(node, _MSG_IN_SIDES)

    def _membership_call(
        self, node: ast.Compare, left: ast.expr, right: ast.Call
    ) -> dict[str, Any]:
        func = right.func
        if not isinstance(func, ast.Name) or func.id not in ("list", "dict"):
            self._fail(
                node,
                "Expected function call like list(foo.bar) or dict(foo.bar), "
                f"got {self._src(func)}(...)",
            )
        name = func.id
        if len(right.args) != 1 or right.keywords or not isinstance(right.args[0], _FIELD_NODES):
            self._fail(
                right, f"{name}() requires exactly one field argument, e.g. {name}(metadata.tags)"
            )
        path = self._path(right.args[0])
        if name == "list":
            if isinstance(left, _FIELD_NODES):
                self._fail(node, "For 'value in list(field)' pattern, the value must be a literal")
            return {path: self._literal(left)}
        if not (isinstance(left, ast.Constant) and isinstance(left.value, str)):
            self._fail(node, "For 'key in dict(field)' pattern, key must be a string literal")
        self._check_segments(left.value, left)
        return {f"{path}.{left.value}": {"$exists": True}}
