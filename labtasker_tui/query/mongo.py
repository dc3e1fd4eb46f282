"""MongoDB query dict -> validated IR (spec §4.6).

Only the operator subset of §4.6 is accepted; everything else is a :class:`FilterError`
naming the operator and the field (``unsupported operator '$foo' at args.lr``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from labtasker_tui.query import ir
from labtasker_tui.query.errors import FilterError

__all__ = ["mongo_to_ir", "normalize_value"]

_CMP = {"$eq": "eq", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_LOGICAL = ("$and", "$or", "$nor")
#: Mongo operators we know and deliberately refuse (a clearer message than "unknown").
_KNOWN_UNSUPPORTED = frozenset({
    "$where", "$text", "$jsonSchema", "$geoWithin", "$geoIntersects", "$near",
    "$nearSphere", "$within", "$box", "$center", "$centerSphere", "$polygon", "$geometry",
    "$maxDistance", "$minDistance", "$bitsAllSet", "$bitsAnySet", "$bitsAllClear",
    "$bitsAnyClear", "$sampleRate", "$alwaysTrue", "$alwaysFalse", "$search", "$meta",
    "$slice", "$natural", "$rand", "$uniqueDocs", "$isolated", "$atomic",
})
_TYPE_CODES = {
    1: "double", 2: "string", 3: "object", 4: "array", 5: "binData", 6: "undefined",
    7: "objectId", 8: "bool", 9: "date", 10: "null", 11: "regex", 12: "dbPointer",
    13: "javascript", 14: "symbol", 15: "javascriptWithScope", 16: "int", 17: "timestamp",
    18: "long", 19: "decimal", -1: "minKey", 127: "maxKey",
}
_NUMBER_TYPES = frozenset({"double", "int", "long", "decimal"})
_REGEX_FLAGS = frozenset("imsx")
_EXPR_ARITH = ("$add", "$subtract", "$multiply", "$divide", "$mod")
_EXPR_CMP = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
_EXPR_LOGIC = ("$and", "$or", "$not")


def mongo_to_ir(doc: Any, text: str = "") -> ir.IR:
    """Validate a Mongo filter document and return its IR."""
    return _Parser(text).top(doc, where=None)


def normalize_value(value: Any, where: str = "", text: str = "") -> Any:
    """A literal as the IR stores it: lists for tuples, aware UTC datetimes, plain numbers."""
    return _Parser(text).value(value, where)


def _dotted(path: ir.Path) -> str:
    return ".".join(path)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text

    # -- errors -------------------------------------------------------------------------

    def fail(self, message: str, needle: str | None = None) -> FilterError:
        column = line = None
        if needle and self.text:
            for quoted in (f'"{needle}"', f"'{needle}'"):
                pos = self.text.find(quoted)
                if pos >= 0:
                    line = self.text.count("\n", 0, pos) + 1
                    column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
                    break
        return FilterError(message, self.text, column, line or 1)

    def unsupported(self, op: str, path: ir.Path | None) -> FilterError:
        at = f" at {_dotted(path)}" if path else ""
        if op in _KNOWN_UNSUPPORTED or op.startswith("$"):
            return self.fail(f"unsupported operator '{op}'{at}", op)
        return self.fail(f"unknown operator '{op}'{at}", op)

    # -- documents ----------------------------------------------------------------------

    def top(self, doc: Any, where: ir.Path | None, in_elem: bool = False) -> ir.IR:
        if not isinstance(doc, dict):
            raise self.fail(f"Invalid query result: {doc!r}. Query must evaluate to a dictionary.")
        items: list[ir.IR] = []
        for key, value in doc.items():
            if not isinstance(key, str):
                raise self.fail(f"field names must be strings, got {key!r}")
            if key.startswith("$"):
                items.append(self.top_operator(key, value, where, in_elem))
            else:
                items.append(self.field(tuple(key.split(".")), value))
        return _and(items)

    def top_operator(self, key: str, value: Any, where: ir.Path | None, in_elem: bool) -> ir.IR:
        if key in _LOGICAL:
            if not isinstance(value, (list, tuple)) or not value:
                raise self.fail(f"{key} must be a nonempty array", key)
            subs = []
            for sub in value:
                if not isinstance(sub, dict):
                    raise self.fail(f"{key} argument's entries must be objects", key)
                subs.append(self.top(sub, where, in_elem))
            if key == "$and":
                return _and(subs)
            if key == "$or":
                return subs[0] if len(subs) == 1 else ir.Or(tuple(subs))
            return ir.Not(subs[0] if len(subs) == 1 else ir.Or(tuple(subs)))
        if key == "$expr":
            if in_elem:
                raise self.fail("$expr can only be applied to the top-level document", key)
            return self.expr_top(value)
        if key == "$comment":
            return ir.Const(True)
        raise self.unsupported(key, where)

    def field(self, path: ir.Path, value: Any) -> ir.IR:
        if isinstance(value, re.Pattern):
            return self.regex_from_pattern(path, value)
        if isinstance(value, dict) and value and _is_operator_doc(value):
            return self.operators(path, value)
        return ir.Cmp(path, "eq", self.value(value, _dotted(path)))

    def operators(self, path: ir.Path, ops: dict[Any, Any]) -> ir.IR:
        """``{"$gt": 1, "$lt": 5, ...}`` for ``path`` (``()`` = the element itself)."""
        items: list[ir.IR] = []
        where = _dotted(path) if path else "$elemMatch"
        if "$options" in ops and "$regex" not in ops:
            raise self.fail(f"$options needs a $regex (at {where})", "$options")
        for op, arg in ops.items():
            if not isinstance(op, str) or not op.startswith("$"):
                raise self.fail(f"unknown operator '{op}' at {where}: operators and field "
                                "names cannot be mixed", str(op))
            parse = FIELD_OPERATORS.get(op)
            if parse is None:
                raise self.unsupported(op, path or ("$elemMatch",))
            node = parse(self, Operand(path, op, arg, ops, where))
            if node is not None:
                items.append(node)
        return _and(items)

    # -- field operators (the entries of FIELD_OPERATORS) ---------------------------------

    def comparison(self, o: Operand) -> ir.IR:
        if isinstance(o.arg, re.Pattern):
            if o.op != "$eq":
                raise self.fail(f"Can't have a regex as argument to {o.op} (at {o.where})", o.op)
            return self.regex_from_pattern(o.path, o.arg)
        return ir.Cmp(o.path, _CMP[o.op], self.value(o.arg, o.where))

    def not_equal(self, o: Operand) -> ir.IR:
        if isinstance(o.arg, re.Pattern):
            raise self.fail(f"Can't have a regex as argument to $ne (at {o.where})", o.op)
        return ir.Not(ir.Cmp(o.path, "eq", self.value(o.arg, o.where)))

    def in_or_nin(self, o: Operand) -> ir.IR:
        node = self.in_(o.path, o.op, o.arg, o.where)
        return node if o.op == "$in" else ir.Not(node)

    def exists(self, o: Operand) -> ir.IR:
        node = ir.Exists(o.path)
        return node if _truthy(o.arg) else ir.Not(node)

    def regex_operator(self, o: Operand) -> ir.IR:
        return self.regex(o.path, o.arg, o.ops.get("$options"), o.where)

    def negation(self, o: Operand) -> ir.IR:
        return ir.Not(self.not_(o.path, o.arg, o.where))

    def size_operator(self, o: Operand) -> ir.IR:
        return ir.Size(o.path, self.size(o.arg, o.where))

    def all_operator(self, o: Operand) -> ir.IR:
        return self.all_(o.path, o.arg, o.where)

    def elem_match_operator(self, o: Operand) -> ir.IR:
        return self.elem_match(o.path, o.arg, o.where)

    def type_operator(self, o: Operand) -> ir.IR:
        return ir.Type(o.path, self.types(o.arg, o.where))

    def mod(self, o: Operand) -> ir.IR:
        """``[divisor, remainder]``: numbers, truncated toward zero to 64-bit integers."""
        if not isinstance(o.arg, (list, tuple)):
            raise self.fail(f"malformed mod, needs to be an array (at {o.where})", o.op)
        if len(o.arg) != 2:
            few = "not enough" if len(o.arg) < 2 else "too many"
            raise self.fail(f"malformed mod, {few} elements (at {o.where})", o.op)
        divisor, remainder = (self.mod_operand(x, what, o)
                              for x, what in zip(o.arg, ("divisor", "remainder"), strict=True))
        if divisor == 0:
            raise self.fail(f"divisor cannot be 0 (at {o.where})", o.op)
        return ir.Mod(o.path, divisor, remainder)

    def mod_operand(self, x: Any, what: str, o: Operand) -> int:
        if isinstance(x, bool) or not isinstance(x, (int, float, Decimal)):
            raise self.fail(f"malformed mod, {what} not a number (at {o.where})", o.op)
        if isinstance(x, (float, Decimal)) and not math.isfinite(x):
            raise self.fail(f"malformed mod, {what} value is invalid: {x} (at {o.where})", o.op)
        n = int(x)  # truncates toward zero
        if not -(2**63) <= n < 2**63:
            raise self.fail(f"malformed mod, {what} value is invalid: {x} cannot be "
                            f"represented as a 64-bit integer (at {o.where})", o.op)
        return n

    def ignored(self, o: Operand) -> None:
        """``$comment``, and ``$options`` (consumed with ``$regex``)."""
        return None

    def not_(self, path: ir.Path, arg: Any, where: str) -> ir.IR:
        if isinstance(arg, re.Pattern):
            return self.regex_from_pattern(path, arg)
        if not isinstance(arg, dict):
            raise self.fail(f"$not needs a regex or a document (at {where})", "$not")
        if not arg:
            raise self.fail(f"$not cannot be empty (at {where})", "$not")
        if not _is_operator_doc(arg):
            first = next(iter(arg))
            raise self.fail(f"unknown operator '{first}' in $not at {where}", "$not")
        return self.operators(path, arg)

    def in_(self, path: ir.Path, op: str, arg: Any, where: str) -> ir.In:
        if not isinstance(arg, (list, tuple)):
            raise self.fail(f"{op} needs an array (at {where})", op)
        values: list[Any] = []
        for v in arg:
            if isinstance(v, re.Pattern):
                values.append(self.regex_from_pattern((), v))
            elif isinstance(v, dict) and v and _is_operator_doc(v):
                raise self.fail(f"cannot nest $ under {op} (at {where})", op)
            else:
                values.append(self.value(v, where))
        return ir.In(path, tuple(values))

    def regex(self, path: ir.Path, pattern: Any, options: Any, where: str) -> ir.Regex:
        flags = ""
        if isinstance(pattern, re.Pattern):
            flags = _pattern_flags(pattern)
            pattern = pattern.pattern
        if not isinstance(pattern, str):
            raise self.fail(f"$regex has to be a string (at {where})", "$regex")
        if options is not None:
            if not isinstance(options, str):
                raise self.fail(f"$options has to be a string (at {where})", "$options")
            bad = set(options) - _REGEX_FLAGS
            if bad:
                raise self.fail(f"invalid flag in regex options: {''.join(sorted(bad))} "
                                f"(at {where}; allowed: i, m, s, x)", "$options")
            flags += options
        flags = "".join(sorted(set(flags)))
        if "\x00" in pattern:
            raise self.fail("Regular expression cannot contain an embedded null byte", "$regex")
        pattern = pcre_to_python(pattern)
        try:
            re.compile(pattern, python_re_flags(flags))
        except re.error as exc:
            raise self.fail(f"Regular expression is invalid: {exc} (at {where})",
                            "$regex") from None
        return ir.Regex(path, pattern, flags)

    def regex_from_pattern(self, path: ir.Path, pattern: re.Pattern[str]) -> ir.Regex:
        return self.regex(path, pattern, None, _dotted(path) or "$elemMatch")

    def size(self, arg: Any, where: str) -> int:
        if isinstance(arg, bool) or not isinstance(arg, (int, float, Decimal)):
            raise self.fail(f"$size needs a number (at {where})", "$size")
        if isinstance(arg, (float, Decimal)):
            if not math.isfinite(arg) or arg != int(arg):
                raise self.fail(f"$size must be a whole number (at {where})", "$size")
            arg = int(arg)
        if arg < 0:
            raise self.fail(f"$size may not be negative (at {where})", "$size")
        if arg > 2**31 - 1:
            raise self.fail(f"$size must be representable as a 32-bit integer (at {where})",
                            "$size")
        return int(arg)

    def all_(self, path: ir.Path, arg: Any, where: str) -> ir.IR:
        if not isinstance(arg, (list, tuple)):
            raise self.fail(f"$all needs an array (at {where})", "$all")
        if not arg:
            return ir.Const(False)
        values: list[Any] = []
        elem = [isinstance(v, dict) and v and next(iter(v)) == "$elemMatch" for v in arg]
        if any(elem) and not all(elem):
            raise self.fail(f"$all/$elemMatch has to be consistent (at {where})", "$all")
        for v in arg:
            if isinstance(v, re.Pattern):
                values.append(self.regex_from_pattern((), v))
            elif isinstance(v, dict) and v and _is_operator_doc(v):
                if next(iter(v)) != "$elemMatch" or len(v) != 1:
                    raise self.fail(f"no $ expressions in $all (at {where})", "$all")
                values.append(self.elem_match((), v["$elemMatch"], where))
            else:
                values.append(self.value(v, where))
        return ir.All(path, tuple(values))

    def elem_match(self, path: ir.Path, arg: Any, where: str) -> ir.ElemMatch:
        if not isinstance(arg, dict):
            raise self.fail(f"$elemMatch needs an Object (at {where})", "$elemMatch")
        first = next(iter(arg), None)
        value_form = (isinstance(first, str) and first.startswith("$")
                      and first not in _LOGICAL + ("$expr", "$where", "$text", "$comment"))
        if value_form:
            return ir.ElemMatch(path, self.operators((), arg), True)
        return ir.ElemMatch(path, self.top(arg, path, in_elem=True), False)

    def types(self, arg: Any, where: str) -> frozenset[str]:
        items = list(arg) if isinstance(arg, (list, tuple)) else [arg]
        if not items:
            raise self.fail(f"$type must match at least one type (at {where})", "$type")
        out: set[str] = set()
        for t in items:
            if isinstance(t, str):
                if t == "number":
                    out |= _NUMBER_TYPES
                elif t in ir.TYPE_NAMES:
                    out.add(t)
                else:
                    raise self.fail(f"Unknown type name alias: {t} (at {where})", "$type")
            elif isinstance(t, (int, float)) and not isinstance(t, bool) and t == int(t) \
                    and int(t) in _TYPE_CODES:
                out.add(_TYPE_CODES[int(t)])
            else:
                raise self.fail(f"Invalid numerical type code: {t!r} (at {where})", "$type")
        return frozenset(out)

    # -- literals -----------------------------------------------------------------------

    def value(self, v: Any, where: str) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return v
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() and v.is_finite() else float(v)
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=dt.UTC)
            return v.astimezone(dt.UTC)
        if isinstance(v, (list, tuple)):
            return [self.value(x, where) for x in v]
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise self.fail(f"object keys must be strings, got {k!r} (at {where})")
                out[k] = self.value(x, where)
            return out
        if isinstance(v, re.Pattern):
            raise self.fail(f"a regular expression cannot be used as a value here (at {where})")
        raise self.fail(f"unsupported value {v!r} of type {type(v).__name__} at {where}")

    # -- $expr --------------------------------------------------------------------------

    def expr_top(self, value: Any) -> ir.IR:
        node = self.expr(value)
        if isinstance(node, ir.EConst):
            return ir.Const(_agg_truthy(node.value))
        return ir.Expr(node)

    def expr(self, value: Any) -> ir.ExprNode:
        if isinstance(value, str):
            if value.startswith("$$"):
                raise self.fail(f"unsupported $expr variable '{value}'", value)
            if value.startswith("$"):
                if len(value) == 1:
                    raise self.fail("'$' by itself is not a valid FieldPath", value)
                return ir.EField(tuple(value[1:].split(".")))
            return ir.EConst(value)
        if isinstance(value, dict):
            if len(value) == 1:
                op, arg = next(iter(value.items()))
                if isinstance(op, str) and op.startswith("$"):
                    return self.expr_op(op, arg)
            if any(isinstance(k, str) and k.startswith("$") for k in value):
                raise self.fail("an expression object must have exactly one $-operator",
                                "$expr")
            raise self.fail("object literals are not supported inside $expr", "$expr")
        if isinstance(value, (list, tuple)):
            raise self.fail("array literals are not supported inside $expr", "$expr")
        return ir.EConst(self.value(value, "$expr"))

    def expr_op(self, op: str, arg: Any) -> ir.ExprNode:
        args = list(arg) if isinstance(arg, (list, tuple)) else [arg]
        if op == "$literal":
            return ir.EConst(self.value(arg, "$expr"))
        if op in _EXPR_CMP:
            if len(args) != 2:
                raise self.fail(f"Expression {op} takes exactly 2 arguments. "
                                f"{len(args)} were passed in.", op)
        elif op in ("$subtract", "$divide", "$mod"):
            if len(args) != 2:
                raise self.fail(f"Expression {op} takes exactly 2 arguments. "
                                f"{len(args)} were passed in.", op)
        elif op in ("$add", "$multiply", "$and", "$or"):
            pass
        elif op == "$not":
            if len(args) != 1:
                raise self.fail(f"Expression $not takes exactly 1 arguments. "
                                f"{len(args)} were passed in.", op)
        else:
            raise self.fail(f"unsupported $expr operator '{op}'", op)
        node = ir.EOp(op, tuple(self.expr(a) for a in args))
        if op in ir.ARITHMETIC:  # a literal MongoDB rejects: known now, whatever the row
            for i, a in enumerate(node.args):
                why = ir.arithmetic_error(op, i, a.value) if isinstance(a, ir.EConst) else None
                if why is not None:
                    raise self.fail(why, op)
        return node


@dataclass(frozen=True)
class Operand:
    """One ``"$op": arg`` of a field's operator document ``ops`` (for error messages:
    ``where``)."""

    path: ir.Path
    op: str
    arg: Any
    ops: dict[Any, Any]
    where: str


#: The field operators: name -> the parser method that builds its IR (None: nothing to add).
FIELD_OPERATORS: dict[str, Callable[[_Parser, Operand], ir.IR | None]] = {
    **{op: _Parser.comparison for op in _CMP},
    "$ne": _Parser.not_equal,
    "$in": _Parser.in_or_nin,
    "$nin": _Parser.in_or_nin,
    "$exists": _Parser.exists,
    "$regex": _Parser.regex_operator,
    "$options": _Parser.ignored,
    "$not": _Parser.negation,
    "$size": _Parser.size_operator,
    "$all": _Parser.all_operator,
    "$elemMatch": _Parser.elem_match_operator,
    "$type": _Parser.type_operator,
    "$mod": _Parser.mod,
    "$comment": _Parser.ignored,
}


_PCRE_NAMED = re.compile(r"\(\?<(?![=!])")
_PCRE_BACKREF = re.compile(r"\\k<(\w+)>")


def pcre_to_python(pattern: str) -> str:
    """Spell the few PCRE constructs Python's :mod:`re` lacks the Python way: ``\\z`` (end of
    subject), ``(?<name>...)`` groups and ``\\k<name>`` references."""
    if "\\z" not in pattern and "(?<" not in pattern and "\\k<" not in pattern:
        return pattern
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] == "z":
                out.append("\\Z")
                i += 2
                continue
            m = _PCRE_BACKREF.match(pattern, i)
            if m:
                out.append(f"(?P={m.group(1)})")
                i = m.end()
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if _PCRE_NAMED.match(pattern, i):
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def python_re_flags(flags: str) -> int:
    """Mongo ``$options`` letters -> :mod:`re` flags."""
    out = 0
    for ch, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
        if ch in flags:
            out |= flag
    return out


def _pattern_flags(pattern: re.Pattern[str]) -> str:
    f = pattern.flags
    return "".join(ch for ch, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X))
                   if f & flag)


def _is_operator_doc(d: dict[Any, Any]) -> bool:
    first = next(iter(d))
    return isinstance(first, str) and first.startswith("$")


def _truthy(v: Any) -> bool:
    """BSON ``trueValue``: false, 0 and null are false; everything else true."""
    if v is None or v is False:
        return False
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return v != 0
    return True


def _agg_truthy(v: Any) -> bool:
    return _truthy(v)


def _and(items: list[ir.IR]) -> ir.IR:
    flat: list[ir.IR] = []
    for item in items:
        if isinstance(item, ir.Const) and item.value:
            continue
        if isinstance(item, ir.And):
            flat.extend(item.items)
        else:
            flat.append(item)
    if any(isinstance(i, ir.Const) and not i.value for i in flat):
        return ir.Const(False)
    if not flat:
        return ir.Const(True)
    return flat[0] if len(flat) == 1 else ir.And(tuple(flat))
