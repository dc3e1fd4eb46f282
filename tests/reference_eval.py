"""A small in-Python reference evaluator of the filter IR with MongoDB semantics (spec §4.7).

Used by the tests only, to check the SQL compiler. It follows MongoDB's matcher closely:
path resolution is a port of ``BSONElementIterator`` (implicit array traversal, numeric
segments as index *and* as key, missing markers for absent fields), leaf predicates follow
``matchesSingleElement``. Documents are plain dicts (task fields at the top level).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

from labtasker_tui.query import ir
from labtasker_tui.query.mongo import python_re_flags


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

RANK_MISSING, RANK_NULL, RANK_NUM, RANK_STR, RANK_OBJ, RANK_ARR, RANK_BOOL, RANK_DATE = (
    0, 5, 10, 15, 20, 25, 40, 45)


def rank(v: Any) -> int:
    if v is MISSING:
        return RANK_MISSING
    if v is None:
        return RANK_NULL
    if isinstance(v, bool):
        return RANK_BOOL
    if isinstance(v, (int, float)):
        return RANK_NUM
    if isinstance(v, str):
        return RANK_STR
    if isinstance(v, dict):
        return RANK_OBJ
    if isinstance(v, list):
        return RANK_ARR
    if isinstance(v, dt.datetime):
        return RANK_DATE
    raise TypeError(v)


def _num_cmp(a: float | int, b: float | int) -> int:
    # exact for int/float mixes (Python compares them exactly); NaN is less than all numbers
    a_nan = isinstance(a, float) and math.isnan(a)
    b_nan = isinstance(b, float) and math.isnan(b)
    if a_nan or b_nan:
        return 0 if a_nan and b_nan else (-1 if a_nan else 1)
    return (a > b) - (a < b)


def bson_cmp(a: Any, b: Any) -> int:
    """BSON total order (objects compared with sorted keys: we treat objects as unordered)."""
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return (ra > rb) - (ra < rb)
    if ra in (RANK_MISSING, RANK_NULL):
        return 0
    if ra == RANK_NUM:
        return _num_cmp(a, b)
    if ra == RANK_STR:
        ea, eb = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
        return (ea > eb) - (ea < eb)
    if ra in (RANK_BOOL, RANK_DATE):
        return (a > b) - (a < b)
    if ra == RANK_ARR:
        for x, y in zip(a, b, strict=False):
            c = bson_cmp(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    # objects (keys taken in sorted order): per field the value's type, the name, the value
    ka, kb = sorted(a), sorted(b)
    for x, y in zip(ka, kb, strict=False):
        c = (rank(a[x]) > rank(b[y])) - (rank(a[x]) < rank(b[y])) or bson_cmp(x, y) \
            or bson_cmp(a[x], b[y])
        if c:
            return c
    return (len(ka) > len(kb)) - (len(ka) < len(kb))


def bson_eq(a: Any, b: Any) -> bool:
    if rank(a) != rank(b):
        return False
    if isinstance(a, dict):
        return set(a) == set(b) and all(bson_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(bson_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bson_cmp(a, b) == 0


# -- path resolution (port of BSONElementIterator) ------------------------------------------


def _is_obj(v: Any) -> bool:
    return isinstance(v, dict)


def candidates(doc: dict, path: ir.Path, expand_leaf: bool = True) -> list[Any]:
    """Every value the path yields in ``doc`` (MISSING markers included)."""
    out: list[Any] = []
    _gen_obj(doc, path, 0, expand_leaf, out)
    return out


def _leaf(v: Any, expand: bool, out: list) -> None:
    if isinstance(v, list) and expand:
        out.extend(v)
    out.append(v)


def _gen_obj(obj: dict, path: ir.Path, i: int, expand: bool, out: list) -> None:
    f = obj.get(path[i], MISSING)
    if f is MISSING:
        out.append(MISSING)
    elif i + 1 == len(path):
        _leaf(f, expand, out)
    elif _is_obj(f):
        _gen_obj(f, path, i + 1, expand, out)
    elif isinstance(f, list):
        _gen_arr(f, path, i + 1, expand, out)
    else:
        out.append(MISSING)


def _gen_arr(arr: list, path: ir.Path, i: int, expand: bool, out: list) -> None:
    seg = path[i]
    for k, e in enumerate(arr):
        if _is_obj(e):
            _gen_obj(e, path, i, expand, out)
        if seg.isdigit() and seg.isascii() and seg == str(k):
            if i + 1 == len(path):
                out.append(e)
            elif _is_obj(e):
                _gen_obj(e, path, i + 1, expand, out)
            elif isinstance(e, list):
                _gen_arr(e, path, i + 1, expand, out)


# -- matching ---------------------------------------------------------------------------------


def _regex(pattern: str, flags: str, v: Any) -> bool:
    return isinstance(v, str) and re.search(pattern, v, python_re_flags(flags)) is not None


def _type_names(v: Any) -> set[str]:
    if v is MISSING:
        return set()
    if v is None:
        return {"null"}
    if isinstance(v, bool):
        return {"bool"}
    if isinstance(v, int):
        return {"int"} if -(2**31) <= v < 2**31 else {"long"}
    if isinstance(v, float):
        return {"double"}
    if isinstance(v, str):
        return {"string"}
    if isinstance(v, dict):
        return {"object"}
    if isinstance(v, list):
        return {"array"}
    if isinstance(v, dt.datetime):
        return {"date"}
    return set()


def cmp_single(op: str, v: Any, bound: Any) -> bool:
    """ComparisonMatchExpression::matchesSingleElement."""
    rv, rb = rank(v), rank(bound)
    if rv != rb:
        if {rv, rb} == {RANK_MISSING, RANK_NULL}:
            return op in ("eq", "lte", "gte")
        return False
    if op == "eq":
        return bson_eq(v, bound)
    v_nan = isinstance(v, float) and math.isnan(v)
    b_nan = isinstance(bound, float) and math.isnan(bound)
    if v_nan or b_nan:
        return op in ("lte", "gte") and v_nan and b_nan
    c = bson_cmp(v, bound)
    return {"gt": c > 0, "gte": c >= 0, "lt": c < 0, "lte": c <= 0}[op]


def in_single(values: tuple, v: Any) -> bool:
    for item in values:
        if isinstance(item, ir.Regex):
            if _regex(item.pattern, item.flags, v):
                return True
        elif item is None:
            if v is MISSING or v is None:
                return True
        elif cmp_single("eq", v, item):
            return True
    return False


def mod_single(divisor: int, remainder: int, v: Any) -> bool:
    """MongoDB's ModMatchExpression: a number truncated toward zero (NaN, Infinity and values
    beyond 64 bits never match), C's remainder (the sign of the dividend)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and not math.isfinite(v):
        return False
    dividend = math.trunc(v)
    if not -(2**63) <= dividend < 2**63:
        return False
    r = abs(dividend) % abs(divisor)
    return (-r if dividend < 0 else r) == remainder


def single(node: ir.IR, v: Any) -> bool:
    """A predicate applied to one value (value-form $elemMatch, leaf candidates)."""
    if isinstance(node, ir.Const):
        return node.value
    if isinstance(node, ir.And):
        return all(single(i, v) for i in node.items)
    if isinstance(node, ir.Or):
        return any(single(i, v) for i in node.items)
    if isinstance(node, ir.Nor):
        return not any(single(i, v) for i in node.items)
    if isinstance(node, ir.Not):
        return not single(node.item, v)
    if isinstance(node, ir.Cmp):
        return cmp_single(node.op, v, node.value)
    if isinstance(node, ir.In):
        return in_single(node.values, v)
    if isinstance(node, ir.Exists):
        return v is not MISSING
    if isinstance(node, ir.Regex):
        return _regex(node.pattern, node.flags, v)
    if isinstance(node, ir.Mod):
        return mod_single(node.divisor, node.remainder, v)
    if isinstance(node, ir.Size):
        return isinstance(v, list) and len(v) == node.n
    if isinstance(node, ir.Type):
        return bool(_type_names(v) & node.types)
    if isinstance(node, ir.All):
        return all(single(x, v) if isinstance(x, (ir.ElemMatch, ir.Regex))
                   else cmp_single("eq", v, x) for x in node.values)
    if isinstance(node, ir.ElemMatch):
        if not isinstance(v, list):
            return False
        if node.value_form:
            return any(single(node.cond, e) for e in v)
        return any(matches(node.cond, e) if _is_obj(e) else
                   matches(node.cond, {str(i): x for i, x in enumerate(e)})
                   for e in v if isinstance(e, (dict, list)))
    raise TypeError(node)


def _any(doc: dict, path: ir.Path, pred, expand: bool = True) -> bool:
    return any(pred(c) for c in candidates(doc, path, expand))


def matches(node: ir.IR, doc: dict, strict: bool = True) -> bool:
    """Does ``doc`` match the IR ``node``? A ``$expr`` that MongoDB rejects raises
    :class:`ExprError` (``strict``) or does not match."""
    if isinstance(node, ir.Const):
        return node.value
    if isinstance(node, ir.And):
        return all(matches(i, doc, strict) for i in node.items)
    if isinstance(node, ir.Or):
        return any(matches(i, doc, strict) for i in node.items)
    if isinstance(node, ir.Nor):
        return not any(matches(i, doc, strict) for i in node.items)
    if isinstance(node, ir.Not):
        return not matches(node.item, doc, strict)
    if isinstance(node, ir.Expr):
        try:
            return _truthy(_eval(node.node, doc))
        except ExprError:
            if strict:
                raise
            return False
    path = node.path
    if isinstance(node, ir.Cmp):
        return _any(doc, path, lambda c: cmp_single(node.op, c, node.value))
    if isinstance(node, ir.In):
        return _any(doc, path, lambda c: in_single(node.values, c))
    if isinstance(node, ir.Exists):
        return _any(doc, path, lambda c: c is not MISSING)
    if isinstance(node, ir.Regex):
        return _any(doc, path, lambda c: _regex(node.pattern, node.flags, c))
    if isinstance(node, ir.Type):
        return _any(doc, path, lambda c: bool(_type_names(c) & node.types))
    if isinstance(node, ir.Mod):
        return _any(doc, path, lambda c: mod_single(node.divisor, node.remainder, c))
    if isinstance(node, ir.Size):
        return _any(doc, path, lambda c: isinstance(c, list) and len(c) == node.n, False)
    if isinstance(node, ir.ElemMatch):
        return _any(doc, path, lambda c: single(node, c), False)
    if isinstance(node, ir.All):
        parts = []
        for x in node.values:
            if isinstance(x, ir.ElemMatch):
                parts.append(ir.ElemMatch(path, x.cond, x.value_form))
            elif isinstance(x, ir.Regex):
                parts.append(ir.Regex(path, x.pattern, x.flags))
            else:
                parts.append(ir.Cmp(path, "eq", x))
        return all(matches(p, doc, strict) for p in parts)
    raise TypeError(node)


# -- $expr (aggregation semantics) --------------------------------------------------------------


class ExprError(Exception):
    """A ``$expr`` MongoDB rejects (the message is MongoDB's)."""


_TYPE_NAMES = {RANK_STR: "string", RANK_OBJ: "object", RANK_ARR: "array", RANK_BOOL: "bool",
               RANK_DATE: "date"}


def expr_errors(node: ir.IR, doc: dict) -> bool:
    """Some ``$expr`` in ``node`` raises on ``doc`` when evaluated on its own."""
    for sub in ir.walk(node):
        if isinstance(sub, ir.Expr):
            try:
                _eval(sub.node, doc)
            except ExprError:
                return True
    return False


def _agg_path(v: Any, path: ir.Path) -> Any:
    if not path:
        return v
    if isinstance(v, dict):
        return _agg_path(v.get(path[0], MISSING), path[1:]) if path[0] in v else MISSING
    if isinstance(v, list):
        out = []
        for e in v:
            if isinstance(e, dict):
                r = _agg_path(e, path)
                if r is not MISSING:
                    out.append(r)
        return out
    return MISSING


def _truthy(v: Any) -> bool:
    if v is MISSING or v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    return True


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _nullish(v: Any) -> bool:
    return v is MISSING or v is None


def _eval(node: ir.ExprNode, doc: dict) -> Any:
    if isinstance(node, ir.EConst):
        return node.value
    if isinstance(node, ir.EField):
        head = node.path[0]
        if head not in doc:
            return MISSING
        return _agg_path(doc[head], node.path[1:])
    op = node.op
    if op in ("$add", "$multiply"):
        acc: Any = 0 if op == "$add" else 1
        for a in node.args:
            v = _eval(a, doc)
            if _nullish(v):
                return None
            if not _is_num(v):
                raise ExprError(f"{op} only supports numeric types, not {_TYPE_NAMES[rank(v)]}")
            acc = acc + v if op == "$add" else acc * v
        return acc
    if op in ("$subtract", "$divide", "$mod"):
        a, b = (_eval(x, doc) for x in node.args)
        if _nullish(a) or _nullish(b):
            return None
        for v in (a, b):
            if not _is_num(v):
                raise ExprError(f"{op} only supports numeric types, not {_TYPE_NAMES[rank(v)]}")
        if op == "$subtract":
            return a - b
        if b == 0:
            raise ExprError(f"can't {op} by zero")
        if op == "$divide":
            return float(a) / float(b)
        if isinstance(a, int) and isinstance(b, int):
            r = abs(a) % abs(b)
            return r if a >= 0 else -r
        return math.fmod(a, b)
    if op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"):
        a, b = (_eval(x, doc) for x in node.args)
        c = bson_cmp(a, b) if op not in ("$eq", "$ne") else (0 if _agg_eq(a, b) else 1)
        return {"$eq": c == 0, "$ne": c != 0, "$gt": c > 0, "$gte": c >= 0, "$lt": c < 0,
                "$lte": c <= 0}[op]
    if op == "$and":
        return all(_truthy(_eval(a, doc)) for a in node.args)
    if op == "$or":
        return any(_truthy(_eval(a, doc)) for a in node.args)
    if op == "$not":
        return not _truthy(_eval(node.args[0], doc))
    raise TypeError(op)


def _agg_eq(a: Any, b: Any) -> bool:
    if rank(a) != rank(b):
        return False
    return bson_eq(a, b) if rank(a) not in (RANK_MISSING, RANK_NULL) else True


# -- sorting ------------------------------------------------------------------------------------


def sort_key(doc: dict, path: ir.Path, descending: bool) -> Any:
    """The value a sort on ``path`` uses (smallest candidate ascending, largest descending)."""
    # a leaf array contributes its elements, not itself; an empty array sorts before null
    keys = []
    for c in candidates(doc, path, expand_leaf=False):
        if isinstance(c, list):
            keys.extend(c if c else [_EMPTY])
        else:
            keys.append(None if c is MISSING else c)
    if not keys:
        keys = [None]
    cmp = functools.cmp_to_key(_sort_cmp)
    return (max if descending else min)(keys, key=cmp)


class _Empty:
    pass


_EMPTY: Any = _Empty()


def _sort_cmp(a: Any, b: Any) -> int:
    if a is _EMPTY or b is _EMPTY:
        return (a is not _EMPTY) - (b is not _EMPTY)
    return bson_cmp(a, b)
