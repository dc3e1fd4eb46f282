"""Expression indexes on JSON paths (``args.lr`` -> ``ix_json_args_lr``).

The indexed expression is :func:`labtasker_tui.query.sql.index_expression`, the very
expression the filter compiler emits for the plain object route of a path, so the planner can
match it (SQLite compares index expressions structurally: ``json_extract(args, '$."lr"')``;
PostgreSQL: ``(args -> 'lr')``). Comparisons, equality, ``$in`` and ``null`` lookups on that
path can then use the index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Index, MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateIndex

from ..fields import JSON_FIELDS
from ..query.paths import INDEX_PREFIX, index_name_for, sqlite_key_safe
from ..query.sql import index_expression
from ..schema import tasks
from .task_store import TaskStore

__all__ = ["INDEX_PREFIX", "add_index", "add_indexes", "build_index", "drop_index",
           "drop_store_index", "index_name", "list_indexes", "list_store_indexes", "parse_path"]


def parse_path(path: str) -> tuple[str, ...]:
    """Validate a dotted JSON path (``args.opt.lr``) for indexing."""
    segs = tuple(path.strip().split("."))
    if len(segs) < 2 or segs[0] not in JSON_FIELDS or any(s == "" for s in segs):
        raise ValueError(f"cannot index {path!r}: give a path inside "
                         f"{', '.join(JSON_FIELDS)} such as args.lr")
    if any("\x00" in s for s in segs):
        raise ValueError(f"cannot index {path!r}: NUL character in a key")
    return segs


def index_name(path: str) -> str:
    """``ix_json_<column>_<path-slug>`` (plus a short hash when the slug is lossy or long)."""
    return index_name_for(parse_path(path))


def build_index(path: str, dialect: str) -> Index:
    """The index of ``path`` for ``dialect`` (its DDL: ``CreateIndex(build_index(...))``),
    built on a private copy of the tasks table."""
    segs = parse_path(path)
    if dialect == "sqlite" and not all(sqlite_key_safe(s) for s in segs[1:]):
        raise ValueError(f"cannot index {path!r} on SQLite: keys must be printable ASCII "
                         "without quotes or backslashes")
    # build on a private copy of the table so the shared metadata never grows these indexes
    table = tasks.to_metadata(MetaData())
    return Index(index_name(path), index_expression(segs, dialect, table=table), _table=table)


async def add_indexes(store: TaskStore, paths: Sequence[str]) -> list[str]:
    """Create the indexes of ``paths`` in one transaction (existing ones are kept), then
    refresh SQLite's planner statistics so that the next query can choose them."""
    async with store.write() as conn:
        names = [await add_index(conn, p) for p in paths]
    if store.dialect == "sqlite":
        async with store.write() as conn:
            await conn.exec_driver_sql("ANALYZE tasks")
    return names


async def list_store_indexes(store: TaskStore) -> list[dict[str, Any]]:
    """:func:`list_indexes` in a read transaction of ``store``."""
    async with store.read() as conn:
        return await list_indexes(conn)


async def drop_store_index(store: TaskStore, path_or_name: str) -> bool:
    """:func:`drop_index` in a write transaction of ``store``."""
    async with store.write() as conn:
        return await drop_index(conn, path_or_name)


async def add_index(conn: AsyncConnection, path: str) -> str:
    """Create the expression index for ``path`` if missing; return its name."""
    dialect = conn.dialect.name
    idx = build_index(path, dialect)
    await conn.execute(CreateIndex(idx, if_not_exists=True))
    return str(idx.name)


async def list_indexes(conn: AsyncConnection) -> list[dict[str, Any]]:
    """The JSON-path indexes on ``tasks``: ``[{"name", "path", "definition"}]``."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = (await conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' "
            "AND name LIKE :p ESCAPE '\\' ORDER BY name"),
            {"p": INDEX_PREFIX.replace("_", "\\_") + "%"})).all()
    else:
        rows = (await conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' "
            "AND schemaname = current_schema() AND indexname LIKE :p ESCAPE '\\' "
            "ORDER BY indexname"),
            {"p": INDEX_PREFIX.replace("_", "\\_") + "%"})).all()
    return [{"name": name, "path": _path_from_definition(sql or "", dialect),
             "definition": sql or ""} for name, sql in rows]


async def drop_index(conn: AsyncConnection, path_or_name: str) -> bool:
    """Drop an index given its path (``args.lr``) or its name; False when there was none."""
    name = path_or_name if path_or_name.startswith(INDEX_PREFIX) else index_name(path_or_name)
    existing = {i["name"] for i in await list_indexes(conn)}
    if name not in existing:
        return False
    quoted = conn.dialect.identifier_preparer.quote(name)
    await conn.execute(text(f"DROP INDEX {quoted}"))
    return True


_SQLITE_DEF = re.compile(r"json_extract\(\s*(?:\w+\.)?(\w+)\s*,\s*'\$((?:\.\"[^\"]*\")+)'\s*\)")
_PG_DEF = re.compile(r"\(\(?(\w+)((?:\s*->\s*'(?:[^']|'')*'(?:::text)?\)?)+)")


def _path_from_definition(sql: str, dialect: str) -> str | None:
    if dialect == "sqlite":
        m = _SQLITE_DEF.search(sql)
        if not m:
            return None
        keys = [k.replace("''", "'") for k in re.findall(r"\.\"([^\"]*)\"", m.group(2))]
        return ".".join([m.group(1), *keys])
    m = _PG_DEF.search(sql)
    if not m:
        return None
    keys = [k.replace("''", "'") for k in re.findall(r"->\s*'((?:[^']|'')*)'", m.group(2))]
    return ".".join([m.group(1), *keys])
