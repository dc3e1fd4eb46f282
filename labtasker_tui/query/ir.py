"""The filter IR: a small tree of frozen dataclasses between the Mongo dict and SQL.

Paths are tuples of segments (``"args.opt.lr"`` -> ``("args", "opt", "lr")``). Inside the
value form of ``$elemMatch`` the path is ``()``: the predicate applies to the array element
itself, with no traversal (Mongo's ``matchesSingleElement``).

Negations are explicit ``Not`` nodes over the positive predicate (``$ne`` = ``Not(Cmp eq)``,
``$nin`` = ``Not(In)``, ``$exists: false`` = ``Not(Exists)``, ``$nor`` = ``Not(Or)``), so they
match documents where the path is missing, as MongoDB does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]

CMP_OPS = ("eq", "gt", "gte", "lt", "lte")

#: Canonical ``$type`` names this layer understands (aliases are folded by the parser).
TYPE_NAMES = frozenset({
    "double", "string", "object", "array", "binData", "undefined", "objectId", "bool", "date",
    "null", "regex", "dbPointer", "javascript", "symbol", "javascriptWithScope", "int",
    "timestamp", "long", "decimal", "minKey", "maxKey",
})


@dataclass(frozen=True)
class Const:
    """Match everything (True) or nothing (False)."""

    value: bool


@dataclass(frozen=True)
class And:
    items: tuple[IR, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[IR, ...]


@dataclass(frozen=True)
class Nor:
    items: tuple[IR, ...]


@dataclass(frozen=True)
class Not:
    item: IR


@dataclass(frozen=True)
class Cmp:
    """Equality (``eq``) or a type-bracketed ordering comparison (``gt gte lt lte``)."""

    path: Path
    op: str
    value: Any


@dataclass(frozen=True)
class In:
    """Equality against any of ``values``; regular expressions (``Regex`` with an empty path)
    may appear among them."""

    path: Path
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Exists:
    path: Path


@dataclass(frozen=True)
class Regex:
    """Unanchored search on string candidates; ``flags`` is a subset of ``imsx``."""

    path: Path
    pattern: str
    flags: str = ""


@dataclass(frozen=True)
class Mod:
    """A number whose value truncated toward zero, modulo ``divisor``, is ``remainder``
    (the remainder takes the dividend's sign, as in C)."""

    path: Path
    divisor: int
    remainder: int


@dataclass(frozen=True)
class Size:
    path: Path
    n: int


@dataclass(frozen=True)
class All:
    """Every item must match: plain values (equality) or ``ElemMatch`` nodes with path ()."""

    path: Path
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ElemMatch:
    """Some element of an array at ``path`` satisfies ``cond``.

    ``value_form``: ``cond`` is built from operators on the element itself (path ``()``);
    otherwise ``cond`` is a sub-filter evaluated with the (object) element as the document.
    """

    path: Path
    cond: IR
    value_form: bool


@dataclass(frozen=True)
class Type:
    path: Path
    types: frozenset[str]


# -- $expr --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EField:
    """``"$a.b"``: aggregation field path (arrays on the way yield arrays, never indexes)."""

    path: Path


@dataclass(frozen=True)
class EConst:
    value: Any


@dataclass(frozen=True)
class EOp:
    """``op`` is one of ``$add $subtract $multiply $divide $mod`` (numbers),
    ``$eq $ne $gt $gte $lt $lte`` (BSON order), ``$and $or $not`` (truthiness)."""

    op: str
    args: tuple[ExprNode, ...]


ExprNode = EField | EConst | EOp

ARITHMETIC = ("$add", "$subtract", "$multiply", "$divide", "$mod")


def arithmetic_error(op: str, position: int, value: Any) -> str | None:
    """Why MongoDB rejects ``value`` as operand ``position`` of the arithmetic ``op`` (None:
    it does not). Null is fine (the result is null); a zero divides nothing."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        if op in ("$divide", "$mod") and position == 1 and value == 0:
            return f"can't {op} by zero"
        return None
    return f"{op} only supports numeric types, not {bson_type_name(value)}"


def bson_type_name(value: Any) -> str:
    """The BSON type name of a non-null, non-number value (for messages)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "date"


@dataclass(frozen=True)
class Expr:
    node: ExprNode


IR = (Const | And | Or | Nor | Not | Cmp | In | Exists | Regex | Mod | Size | All | ElemMatch | Type
      | Expr)


def walk(node: IR) -> Iterator[IR]:
    """Yield ``node`` and every IR node below it (not into ``$expr`` trees)."""
    yield node
    if isinstance(node, (And, Or, Nor)):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, ElemMatch):
        yield from walk(node.cond)
    elif isinstance(node, All):
        for v in node.values:
            if isinstance(v, ElemMatch):
                yield from walk(v)
