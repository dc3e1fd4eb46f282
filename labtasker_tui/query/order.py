"""ORDER BY for sort specs (spec §3.4): columns as they are, JSON paths in BSON order.

Top-level fields sort as columns (null first ascending, last descending). JSON paths use the
BSON cross-type order: missing = null < numbers < strings < objects < arrays < booleans; an
array sorts by its smallest element ascending and its largest descending (an empty array
before null). An empty spec is the fetch order; the tie-breakers always end the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Numeric, Text, cast, func, null, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from labtasker_tui.fields import FETCH_ORDER, TIE_BREAKERS
from labtasker_tui.query import ir
from labtasker_tui.query.bson import RANK_EMPTY_ARRAY, RANK_NULL
from labtasker_tui.query.columns import JSON_COLUMNS, OBJECT_COLUMNS, SCALAR_FIELDS
from labtasker_tui.query.compose import all_of, as_sql, negate
from labtasker_tui.query.dialects.base import ColumnValue, Dialect, PlainSort, Value
from labtasker_tui.query.routes import Leaf, Route, Routes, chain
from labtasker_tui.schema import tasks


def _column_term(field: str, desc: bool) -> ColumnElement[Any]:
    col = tasks.c[SCALAR_FIELDS[field][0]]
    return col.desc().nulls_last() if desc else col.asc().nulls_first()


def _plain_term(field: str, desc: bool) -> ColumnElement[Any]:
    col = tasks.c[SCALAR_FIELDS[field][0]]
    return col.desc() if desc else col.asc()


def sort_terms(dialect: Dialect[Any], sort: Sequence[tuple[str, bool]]
               ) -> list[ColumnElement[Any]]:
    """ORDER BY terms for ``[(path, descending), ...]``."""
    routes = Routes(dialect)
    terms: list[ColumnElement[Any]] = []
    if not sort:
        terms += [_plain_term(f, desc) for f, desc in FETCH_ORDER]
    for path_text, desc in sort:
        path = tuple(path_text.split("."))
        head = path[0]
        if head in SCALAR_FIELDS and len(path) == 1:
            terms.append(_column_term(head, desc))
        elif head in JSON_COLUMNS:
            terms += _json_sort_terms(dialect, routes, path, desc)
        # anything else is missing everywhere: a constant key, no term needed
    terms += [_plain_term(f, desc) for f, desc in TIE_BREAKERS]
    return terms


def _json_sort_terms(dialect: Dialect[Any], routes: Routes, path: ir.Path, desc: bool
                     ) -> list[Any]:
    """Three terms (rank, number, text) of the smallest/largest candidate of ``path``."""
    empty = (as_sql(RANK_EMPTY_ARRAY), cast(null(), Numeric), cast(null(), Text))
    nothing = (as_sql(RANK_NULL), cast(null(), Numeric), cast(null(), Text))
    rows: list[tuple[Route, tuple[Any, Any, Any]]] = []
    leaves = routes.leaves(path, expand=False)
    if all(leaf.missing for leaf in leaves):
        return []  # missing everywhere: a constant key
    for leaf in leaves:
        value, route = leaf.value, leaf.route
        if leaf.missing:
            rows.append((route, nothing))
        elif not isinstance(value, ColumnValue):
            # a leaf array sorts by its elements (an empty one before null)
            is_arr = value.type_is("array")
            alias, elem = value.elements()
            rows.append((route.add(is_arr).join(alias), _sort_columns(dialect, elem)))
            rows.append((route.add(is_arr).add(value.array_length() == 0), empty))
            rows.append((route.add(value.present()).add(negate(is_arr)),
                         _sort_columns(dialect, value)))
        else:
            rows.append((route.add(value.present()), _sort_columns(dialect, value)))
    selects = []
    for route, cols in rows:
        sel = select(*(c.label(n) for c, n in zip(cols, ("r", "n", "t"), strict=True)))
        if route.aliases:
            sel = sel.select_from(chain(route.aliases))
        conds = [*route.pre, *route.post]
        if conds:
            sel = sel.where(all_of(*conds))
        selects.append(sel.correlate(tasks))
    u = union_all(*selects).subquery()
    order = [u.c.r.desc(), u.c.n.desc(), u.c.t.desc()] if desc else \
        [u.c.r.asc(), u.c.n.asc(), u.c.t.asc()]
    general: list[Any] = []
    for col in (u.c.r, u.c.n, u.c.t):
        sub: Any = select(col).order_by(*order).limit(1).scalar_subquery()
        if col is u.c.r:
            sub = func.coalesce(sub, as_sql(RANK_NULL))
        general.append(sub)
    plain = _plain_route(dialect, path, leaves, nothing)
    keys = general if plain is None else dialect.plain_sort_keys(path, general, plain)
    return [key.desc().nulls_last() if desc else key.asc().nulls_first() for key in keys]


def _plain_route(dialect: Dialect[Any], path: ir.Path, leaves: list[Leaf],
                 nothing: tuple[Any, Any, Any]) -> PlainSort | None:
    """The common case, so the per-row subquery is skipped.

    When every step of the plain object-key route is an object and the value is not an
    array, that value is the only candidate: its key is computed directly. When no step is an
    array and the value is missing, the path is missing (key of null). Only other rows (arrays
    on the way or at the end) need the general candidate subquery."""
    if path[0] not in OBJECT_COLUMNS or len(path) < 2:
        return None
    plain = next((lf for lf in leaves if not lf.missing and not lf.route.aliases
                  and not lf.route.deviates and not isinstance(lf.value, ColumnValue)), None)
    if plain is None or isinstance(plain.value, ColumnValue):
        return None
    value = plain.value
    found = all_of(*plain.route.pre, value.present(), negate(value.type_is("array")))
    step, no_array = dialect.json_root(path[0]), []
    for seg in path[1:-1]:
        step = step.key(seg)
        no_array.append(negate(step.type_is("array")))
    missing = all_of(*no_array, value.missing())
    return PlainSort(found, _sort_columns(dialect, value), missing, nothing)


def _sort_columns(dialect: Dialect[Any], value: Value) -> tuple[Any, Any, Any]:
    if isinstance(value, ColumnValue):
        return (as_sql(RANK_NULL), cast(null(), Numeric), cast(null(), Text))
    return dialect.sort_columns(value)
