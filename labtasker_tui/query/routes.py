"""Path traversal: the routes a dotted path can take through a document, compiled to SQL.

A path yields a set of *candidate* values. Walking an object takes the key; walking an array
applies the rest of the path to every element that is an object, and a segment that is a
non-negative integer also selects that index. A leaf array contributes itself and its elements.
Absent fields produce *missing* markers, which only ``null``-matching predicates care about
(``{p: null}``, ``$in: [null]``, ``$gte/$lte: null``). This is a port of MongoDB's
``BSONElementIterator``; each possible route through the document is compiled to SQL (the
dialect's table of array elements for the array steps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, literal_column, null, select, true
from sqlalchemy.sql.expression import FromClause

from labtasker_tui.query import ir
from labtasker_tui.query.columns import (
    JSON_COLUMNS,
    OBJECT_COLUMNS,
    SCALAR_FIELDS,
    is_array_index,
)
from labtasker_tui.query.compose import Cond, all_of, any_of, is_false
from labtasker_tui.query.dialects.base import (
    SCALAR_TYPES,
    ColumnValue,
    Dialect,
    Document,
    JsonValue,
    Value,
)
from labtasker_tui.schema import tasks

#: A predicate on one value.
ValueTest = Callable[[Value], Cond]


@dataclass
class Route:
    """One way through the document: conditions, and the array-element tables it joins."""

    pre: list[Any] = field(default_factory=list)  # conditions outside any EXISTS
    aliases: list[Any] = field(default_factory=list)
    post: list[Any] = field(default_factory=list)  # conditions inside EXISTS
    deviates: bool = False  # left the pure object-key route (index hint: that path is NULL)

    def add(self, cond: Any) -> Route:
        r = Route(list(self.pre), list(self.aliases), list(self.post), self.deviates)
        (r.post if r.aliases else r.pre).append(cond)
        return r

    def join(self, alias: Any) -> Route:
        return Route(list(self.pre), [*self.aliases, alias], list(self.post), self.deviates)

    def deviate(self) -> Route:
        return Route(list(self.pre), list(self.aliases), list(self.post), True)


def chain(aliases: Sequence[FromClause]) -> FromClause:
    """``a1 JOIN a2 ON true ...``: later table functions read earlier ones (lateral)."""
    return functools.reduce(lambda a, b: a.join(b, true()), aliases)


@dataclass
class Leaf:
    """One candidate of a path (or a missing marker) and the route that reaches it."""

    route: Route
    value: Value
    by_key: bool  # reached by a key (a leaf array is then traversed), not by an array index
    missing: bool = False  # a missing marker (``value`` is meaningless)
    expanded: bool = False  # an element of a leaf array


class Routes:
    """The routes of paths in one dialect."""

    def __init__(self, dialect: Dialect[Any]) -> None:
        self.dialect = dialect

    # -- as a list of leaves (sorting) ----------------------------------------------------

    def leaves(self, path: ir.Path, expand: bool) -> list[Leaf]:
        """Every candidate (and missing marker) of ``path``: one entry per route."""
        out: list[Leaf] = []
        head = path[0]
        if head in SCALAR_FIELDS:
            col, kind = SCALAR_FIELDS[head]
            value = ColumnValue(tasks.c[col], kind)
            out.append(Leaf(Route(), value, by_key=len(path) > 1, missing=len(path) > 1))
            return out
        if head not in JSON_COLUMNS:
            out.append(Leaf(Route(), ColumnValue(null(), "string"), True, missing=True))
            return out
        root = self.dialect.json_root(head)
        if len(path) == 1:
            self._leaf(root, True, Route(), expand, out)
            return out
        if head not in OBJECT_COLUMNS:  # cmd may be a string: then the rest is missing
            out.append(Leaf(Route().add(root.type_is(*SCALAR_TYPES)).deviate(), root, True,
                            missing=True))
        self._walk(root, path, 1, True, Route(), expand, out,
                   known_object=head in OBJECT_COLUMNS)
        return out

    def _leaf(self, value: JsonValue, by_key: bool, route: Route, expand: bool,
              out: list[Leaf]) -> None:
        out.append(Leaf(route, value, by_key))
        if expand and by_key:
            alias, elem = value.elements()
            r = route.add(value.type_is("array"))
            r.deviates = route.deviates
            out.append(Leaf(r.join(alias), elem, False, expanded=True))

    def _walk(self, value: JsonValue, path: ir.Path, i: int, by_key: bool, route: Route,
              expand: bool, out: list[Leaf], known_object: bool = False) -> None:
        if i == len(path):
            self._leaf(value, by_key, route, expand, out)
            return
        seg = path[i]
        last = i + 1 == len(path)
        # object: the key
        r = route if known_object else route.add(value.type_is("object"))
        child = value.key(seg)
        out.append(Leaf(r.add(child.missing()).deviate(), child, True, missing=True))
        if not last:
            # a scalar reached by a key with path left over is a missing marker
            out.append(Leaf(r.add(child.type_is(*SCALAR_TYPES)).deviate(), child, True,
                            missing=True))
        self._walk(child, path, i + 1, True, r, expand, out)
        if known_object:
            return
        # array: every element that is an object, then the key
        alias, elem = value.elements()
        r = route.add(value.type_is("array")).deviate().join(alias).add(elem.type_is("object"))
        echild = elem.key(seg)
        out.append(Leaf(r.add(echild.missing()), echild, True, missing=True))
        if not last:
            out.append(Leaf(r.add(echild.type_is(*SCALAR_TYPES)), echild, True, missing=True))
        self._walk(echild, path, i + 1, True, r, expand, out)
        # array: a numeric segment is also an index
        if is_array_index(seg):
            r = route.add(value.type_is("array")).deviate()
            self._walk(value.index(int(seg)), path, i + 1, False, r, expand, out)

    # -- as one condition (filters) -------------------------------------------------------

    def some(self, path: ir.Path, test: ValueTest, *, missing: bool = False,
             expand: bool = True, root: Document | None = None) -> Cond:
        """Some candidate of ``path`` satisfies ``test`` (or is missing, when ``missing``).

        The routes through the document form a tree (object key / array elements / array
        index at each step) that SQL evaluates with short cuts on the container types. The
        plain object route comes first, on its own, so an index on its expression serves it;
        every other route implies that expression is NULL.
        """
        if root is not None:  # a sub-document of $elemMatch
            return self._keyed(root.key(path[0]), path, 0, test, missing, expand, False)
        head = path[0]
        if head in SCALAR_FIELDS:
            col, kind = SCALAR_FIELDS[head]
            if len(path) > 1:
                return true() if missing else false()
            return test(ColumnValue(tasks.c[col], kind))
        if head not in JSON_COLUMNS:
            return true() if missing else false()
        value = self.dialect.json_root(head)
        if len(path) == 1:
            return self._tree(value, path, 1, True, test, missing, expand)
        known = head in OBJECT_COLUMNS
        parts = []
        if not known and missing:  # cmd may be a string: then the rest of the path is missing
            parts.append(value.type_is(*SCALAR_TYPES))
        hint = self.dialect.index_hint(path)
        if hint is None:
            parts.append(self._tree(value, path, 1, True, test, missing, expand, known))
            return any_of(*parts)
        plain = value
        for seg in path[1:]:
            plain = plain.key(seg)
        parts.append(test(plain))
        if expand:
            parts.append(all_of(self.expansion(plain, test), self.dialect.array_range(hint)))
        rest = self._tree(self.dialect.json_root(head), path, 1, True, test, missing, expand,
                          known, plain_route=True)
        parts.append(all_of(hint.is_(None), rest))
        return any_of(*parts)

    def expansion(self, value: JsonValue, test: ValueTest) -> Cond:
        """``value`` is an array with an element satisfying ``test``."""
        alias, elem = value.elements()
        inner = test(elem)
        if is_false(inner):
            return false()
        return all_of(value.type_is("array"),
                      select(literal_column("1")).select_from(alias).where(inner).exists())

    def _keyed(self, child: JsonValue, path: ir.Path, i: int, test: ValueTest, missing: bool,
               expand: bool, plain_route: bool) -> Cond:
        """The routes below ``child``, reached by the key ``path[i]``."""
        sub = [child.missing()] if missing else []
        if missing and i + 1 < len(path):  # a scalar with path left over is a missing marker
            sub.append(child.type_is(*SCALAR_TYPES))
        sub.append(self._tree(child, path, i + 1, True, test, missing, expand,
                              plain_route=plain_route))
        return any_of(*sub)

    def _tree(self, value: JsonValue, path: ir.Path, i: int, by_key: bool, test: ValueTest,
              missing: bool, expand: bool, known_object: bool = False,
              plain_route: bool = False) -> Cond:
        """The routes from ``value`` (reached by a key or an index) for path[i:].

        ``plain_route``: ``value`` lies on the all-object-keys route, whose leaf the caller
        handles itself (so it is left out here).
        """
        if i == len(path):
            if plain_route:
                return false()
            parts = [test(value)]
            if expand and by_key:
                parts.append(self.expansion(value, test))
            return any_of(*parts)
        seg = path[i]
        by_key_cond = self._keyed(value.key(seg), path, i, test, missing, expand, plain_route)
        if known_object:
            return by_key_cond
        parts = [all_of(value.type_is("object"), by_key_cond)]
        # an array: every element that is an object, then the key
        alias, elem = value.elements()
        inner = all_of(elem.type_is("object"),
                       self._keyed(elem.key(seg), path, i, test, missing, expand, False))
        if not is_false(inner):
            parts.append(all_of(value.type_is("array"), select(literal_column("1"))
                                .select_from(alias).where(inner).exists()))
        # an array: a numeric segment is also an index
        if is_array_index(seg):
            sub = self._tree(value.index(int(seg)), path, i + 1, False, test, missing, expand)
            parts.append(all_of(value.type_is("array"), sub))
        return any_of(*parts)
