"""Boolean composition of SQL conditions: constant folding, NULL-safe NOT, and AND/OR lists
split into balanced parenthesised groups (SQLite parses a flat ``a OR b OR ...`` left-deep and
refuses an expression tree deeper than 1000)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, Integer, and_, case, false, func, literal_column, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement, Grouping

#: A SQL condition.
Cond = ColumnElement[bool]

#: Terms per AND/OR list before it is split into parenthesised groups.
FANOUT = 32


class KeptGroup(Grouping[bool]):
    """Parentheses that ``and_``/``or_`` keep (a plain Grouping exposes its inner operator,
    so they flatten it back into one long list)."""

    inherit_cache = True
    operator = None


def _balanced(op: Callable[..., Cond], items: tuple[Cond, ...]) -> Cond:
    """``op(*items)`` as a tree of parenthesised groups of at most ``FANOUT`` terms."""
    while len(items) > FANOUT:
        items = tuple(KeptGroup(op(*items[i:i + FANOUT])) if len(items[i:i + FANOUT]) > 1
                      else items[i] for i in range(0, len(items), FANOUT))
    return op(*items)


def is_true(x: object) -> bool:
    return x is True or type(x).__name__ == "True_"


def is_false(x: object) -> bool:
    return x is False or type(x).__name__ == "False_"


def all_of(*items: Any) -> Cond:
    """AND of the conditions (None and TRUE dropped; one FALSE makes it FALSE)."""
    kept = tuple(i for i in items if i is not None and not is_true(i))
    if any(is_false(i) for i in kept):
        return false()
    if not kept:
        return true()
    return kept[0] if len(kept) == 1 else _balanced(and_, kept)


def any_of(*items: Any) -> Cond:
    """OR of the conditions (None and FALSE dropped; one TRUE makes it TRUE)."""
    kept = tuple(i for i in items if i is not None and not is_false(i))
    if any(is_true(i) for i in kept):
        return true()
    if not kept:
        return false()
    return kept[0] if len(kept) == 1 else _balanced(or_, kept)


def negate(x: Any) -> Cond:
    """NOT of a condition, with SQL NULL (unknown) counted as false first."""
    if is_true(x):
        return false()
    if is_false(x):
        return true()
    return not_(func.coalesce(x, false(), type_=Boolean))


def as_sql(v: Any) -> Any:
    """Python True/False/int as SQL TRUE/FALSE/an integer literal (anything else unchanged)."""
    if v is True:
        return true()
    if v is False:
        return false()
    if isinstance(v, int):
        return literal_column(str(v), Integer)
    return v


def case_when(*whens: tuple[Any, Any], else_: Any) -> Any:
    """CASE over ``(condition, result)`` pairs (Python values allowed), dropping FALSE arms."""
    arms = tuple((as_sql(w), as_sql(t)) for w, t in whens if not is_false(as_sql(w)))
    if not arms:
        return as_sql(else_)
    return case(*arms, else_=as_sql(else_))


def compare(op: str, a: Any, b: Any) -> Cond:
    """SQL ``a <op> b`` for the IR's comparison names (eq gt gte lt lte)."""
    result: Cond = PYTHON_COMPARISONS[op](a, b)
    return result


#: The IR's comparison names as Python operators.
PYTHON_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
    "lte": operator.le,
}
