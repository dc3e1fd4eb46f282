"""The filter compiler's entry points: IR -> SQLAlchemy over ``schema.tasks`` (SQLite and
PostgreSQL), ORDER BY for sort specs, and the expression of a JSON index.

MongoDB semantics (spec §4.7), compiled, never evaluated row by row in Python. The walk:
:mod:`.compiler` (one handler per IR node) -> :mod:`.routes` (the routes of a path through
the document) -> the dialect (:mod:`.dialects.sqlite`, :mod:`.dialects.postgres`: predicates
on one value); :mod:`.expr` for ``$expr``, :mod:`.order` for sorting, :mod:`.compose` for
AND/OR/NOT. JSON paths reach SQL as literals (``json_extract(args, '$."lr"')``,
``(args -> 'lr')``), so expression indexes built by :mod:`labtasker_tui.store.indexes` serve
the plain case; all values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from labtasker_tui.query import ir
from labtasker_tui.query.columns import JSON_COLUMNS, SCALAR_FIELDS
from labtasker_tui.query.compiler import Compiler
from labtasker_tui.query.dialects import get_dialect
from labtasker_tui.query.order import sort_terms
from labtasker_tui.query.paths import json_path_literal, pg_key_literal, sqlite_key_safe
from labtasker_tui.query.regexes import REGEX_TIMEOUT_S, regex_to_postgres
from labtasker_tui.query.sqlite_functions import register_sqlite_functions
from labtasker_tui.schema import tasks

__all__ = [
    "JSON_COLUMNS",
    "REGEX_TIMEOUT_S",
    "SCALAR_FIELDS",
    "index_expression",
    "ir_to_sql",
    "json_path_literal",
    "order_by",
    "pg_key_literal",
    "regex_to_postgres",
    "register_sqlite_functions",
    "sqlite_key_safe",
]

#: The old private name, still imported by the index and facet modules.
_sqlite_key_safe = sqlite_key_safe


def ir_to_sql(node: ir.IR, dialect_name: str) -> ColumnElement[bool]:
    """The IR as a boolean SQL expression over ``schema.tasks`` for ``sqlite``/``postgresql``."""
    return Compiler(get_dialect(dialect_name)).compile(node)


def index_expression(path: Sequence[str], dialect_name: str, table: Any = tasks
                     ) -> ColumnElement[Any]:
    """The expression an expression index on a JSON ``path`` (column first) is built on.

    The filter compiler emits exactly this expression for the plain object route, so the
    planner can match the index structurally.
    """
    if path[0] not in JSON_COLUMNS or len(path) < 2:
        raise ValueError(f"{'.'.join(path)!r} is not a path inside args/metadata/summary/cmd")
    return get_dialect(dialect_name).index_expression(path, table)


def order_by(sort: Sequence[tuple[str, bool]], dialect_name: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms for ``[(path, descending), ...]`` (spec §3.4; see :mod:`.order`).

    Empty ``sort`` = fetch order (labtasker_tui.fields.FETCH_ORDER); the tie-breakers
    (``created_at`` then ``task_id``) always end the list.
    """
    return sort_terms(get_dialect(dialect_name), sort)
