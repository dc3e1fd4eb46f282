"""Filter IR -> SQL condition: one handler per IR node, in the table ``HANDLERS``.

A handler compiles its node at a *site*: the document (a task row, or an object element under
``$elemMatch``), where a path's candidates are reached through :mod:`.routes`, or one value
(an array element under the value form of ``$elemMatch``: MongoDB's matchesSingleElement),
where the path is ignored. ``site.some(path, test)`` is the only difference between the two.
The predicate on one value comes from the dialect (:mod:`.dialects`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import false, literal_column, select, true

from labtasker_tui.query import ir
from labtasker_tui.query.compose import Cond, all_of, any_of, is_false, negate
from labtasker_tui.query.dialects.base import ColumnValue, Dialect, Document, Value
from labtasker_tui.query.expr import compile_expr
from labtasker_tui.query.routes import Routes, ValueTest


class Site:
    """Where a node is compiled: a document (``value`` None) or one value."""

    def __init__(self, compiler: Compiler, root: Document | None = None,
                 value: Value | None = None) -> None:
        self.compiler = compiler
        self.root = root
        self.value = value

    @property
    def is_document(self) -> bool:
        return self.value is None

    def some(self, path: ir.Path, test: ValueTest, *, missing: bool = False,
             expand: bool = True) -> Cond:
        """Some candidate of ``path`` passes ``test`` (``missing``: a missing path passes;
        ``expand``: the elements of a leaf array are candidates too)."""
        if self.value is not None:
            return test(self.value)
        return self.compiler.routes.some(path, test, missing=missing, expand=expand,
                                         root=self.root)


N = TypeVar("N")
Handler = Callable[["Compiler", Any, Site], Cond]
HANDLERS: dict[type, Handler] = {}


def handles(node_type: type[N]) -> Callable[[Callable[[Compiler, N, Site], Cond]],
                                             Callable[[Compiler, N, Site], Cond]]:
    """Register the handler of ``node_type``."""
    def register(fn: Callable[[Compiler, N, Site], Cond]) -> Callable[[Compiler, N, Site], Cond]:
        HANDLERS[node_type] = fn
        return fn
    return register


class Compiler:
    def __init__(self, dialect: Dialect[Any]) -> None:
        self.dialect = dialect
        self.routes = Routes(dialect)

    def compile(self, node: ir.IR, site: Site | None = None) -> Cond:
        handler = HANDLERS.get(type(node))
        if handler is None:
            raise TypeError(f"unknown IR node {node!r}")
        return handler(self, node, site or Site(self))

    def on_value(self, node: ir.IR, value: Value) -> Cond:
        """``node`` on one value (the value form of ``$elemMatch``)."""
        return self.compile(node, Site(self, value=value))


# -- boolean nodes ----------------------------------------------------------------------------


@handles(ir.Const)
def _const(comp: Compiler, node: ir.Const, site: Site) -> Cond:
    return true() if node.value else false()


@handles(ir.And)
def _and(comp: Compiler, node: ir.And, site: Site) -> Cond:
    return all_of(*(comp.compile(i, site) for i in node.items))


@handles(ir.Or)
def _or(comp: Compiler, node: ir.Or, site: Site) -> Cond:
    return any_of(*(comp.compile(i, site) for i in merge_equalities(node.items)))


@handles(ir.Nor)
def _nor(comp: Compiler, node: ir.Nor, site: Site) -> Cond:
    return negate(any_of(*(comp.compile(i, site) for i in merge_equalities(node.items))))


@handles(ir.Not)
def _not(comp: Compiler, node: ir.Not, site: Site) -> Cond:
    return negate(comp.compile(node.item, site))


@handles(ir.Expr)
def _expr(comp: Compiler, node: ir.Expr, site: Site) -> Cond:
    if not site.is_document:
        raise ValueError("$expr is only allowed at the top level")
    return compile_expr(comp.dialect, comp.routes, node.node)


# -- path nodes -------------------------------------------------------------------------------


@handles(ir.Cmp)
def _cmp(comp: Compiler, node: ir.Cmp, site: Site) -> Cond:
    if node.value is None and node.op in ("gt", "lt"):
        return false()
    return site.some(node.path, lambda v: comp.dialect.compare(v, node.op, node.value),
                     missing=node.value is None)


@handles(ir.In)
def _in(comp: Compiler, node: ir.In, site: Site) -> Cond:
    return site.some(node.path, lambda v: comp.dialect.in_(v, node.values),
                     missing=any(v is None for v in node.values))


@handles(ir.Exists)
def _exists(comp: Compiler, node: ir.Exists, site: Site) -> Cond:
    if not site.is_document:
        return true()
    return site.some(node.path, lambda v: v.present(), expand=False)


@handles(ir.Regex)
def _regex(comp: Compiler, node: ir.Regex, site: Site) -> Cond:
    return site.some(node.path, lambda v: comp.dialect.regex(v, node.pattern, node.flags))


@handles(ir.Type)
def _type(comp: Compiler, node: ir.Type, site: Site) -> Cond:
    return site.some(node.path, lambda v: comp.dialect.type_(v, node.types))


@handles(ir.Mod)
def _mod(comp: Compiler, node: ir.Mod, site: Site) -> Cond:
    return site.some(node.path, lambda v: comp.dialect.mod(v, node.divisor, node.remainder))


@handles(ir.Size)
def _size(comp: Compiler, node: ir.Size, site: Site) -> Cond:
    return site.some(node.path, lambda v: comp.dialect.size(v, node.n), expand=False)


@handles(ir.All)
def _all(comp: Compiler, node: ir.All, site: Site) -> Cond:
    parts = []
    for v in node.values:
        if isinstance(v, ir.ElemMatch):
            item: ir.IR = ir.ElemMatch(node.path, v.cond, v.value_form)
        elif isinstance(v, ir.Regex):
            item = ir.Regex(node.path, v.pattern, v.flags)
        else:
            item = ir.Cmp(node.path, "eq", v)
        parts.append(comp.compile(item, site))
    return all_of(*parts)


@handles(ir.ElemMatch)
def _elem_match(comp: Compiler, node: ir.ElemMatch, site: Site) -> Cond:
    def test(array: Value) -> Cond:
        if isinstance(array, ColumnValue):
            return false()
        alias, elem = array.elements()
        if node.value_form:
            inner = comp.on_value(node.cond, elem)
        else:
            # the sub-filter runs on object elements, and on array elements seen as
            # documents keyed "0", "1", ... (MongoDB's isABSONObj)
            as_doc = comp.dialect.array_as_document(elem)
            inner = any_of(
                all_of(elem.type_is("object"), comp.compile(node.cond, Site(comp, elem))),
                all_of(elem.type_is("array"), comp.compile(node.cond, Site(comp, as_doc))))
        if is_false(inner):
            return false()
        exists = select(literal_column("1")).select_from(alias).where(inner).exists()
        return all_of(array.type_is("array"), exists)

    return site.some(node.path, test, expand=False)


# -- rewrites ---------------------------------------------------------------------------------


def merge_equalities(items: tuple[ir.IR, ...]) -> list[ir.IR]:
    """OR of equalities on one path -> one ``In`` (same meaning: some candidate equals some
    value), so ``a == 0 or a == 1 or ...`` compiles to one lookup instead of a term each."""
    by_path: dict[ir.Path, list[Any]] = {}
    order: list[ir.IR | ir.Path] = []
    for item in items:
        values: tuple[Any, ...] | None = None
        if isinstance(item, ir.Cmp) and item.op == "eq":
            values = (item.value,)
        elif isinstance(item, ir.In):
            values = item.values
        if values is None or not isinstance(item, (ir.Cmp, ir.In)):
            order.append(item)
            continue
        if item.path not in by_path:
            by_path[item.path] = []
            order.append(item.path)  # placeholder: keeps the first position
        by_path[item.path].extend(values)
    merged: list[ir.IR] = []
    for entry in order:
        if isinstance(entry, tuple):
            vals = by_path[entry]
            merged.append(ir.Cmp(entry, "eq", vals[0]) if len(vals) == 1
                          else ir.In(entry, tuple(vals)))
        else:
            merged.append(entry)
    return merged
