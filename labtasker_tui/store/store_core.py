"""The plumbing under :class:`~.task_store.TaskStore`: its transactions (one per public write,
interruptible reads on SQLite), the schema on first use, and the SQL of a selection's scope
and order that its reads (:mod:`.task_reads`) and writes (:mod:`.task_writes`) share."""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import schema
from ..errors import StoreError
from ..fields import FETCH_ORDER, JSON_FIELDS, TIE_BREAKERS
from ..schema import tasks
from ..settings import SCHEMA_VERSION
from .migrations import schema_version
from .read_interrupts import interrupt, interrupted_error, sqlite_connection
from .selection import Selection, selector_conds

if TYPE_CHECKING:
    import sqlite3

#: Up to this many ids are bound one by one; more go as one JSON array parameter.
SMALL_IN = 50

#: The default order (fetch order, then the tie-breakers), as (column name, descending).
DEFAULT_ORDER: tuple[tuple[str, bool], ...] = FETCH_ORDER + TIE_BREAKERS
#: The columns a task is read from (``rows.row_to_task``), queue last.
TASK_COLUMNS = [c for c in tasks.c if c.name != "queue"] + [tasks.c.queue]


class Rollback(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside :meth:`StoreCore.write` to discard the transaction and return ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


#: Tags the reads of the current task so that :meth:`StoreCore.interrupt_reads` can stop them.
READ_TAG: ContextVar[str | None] = ContextVar("labtasker_read_tag", default=None)


class StoreCore:
    """A queue's connection to the database: transactions, schema, scope and order."""

    def __init__(self, engine: AsyncEngine, queue: str = "default") -> None:
        self.engine = engine
        self.queue = queue
        self.dialect = engine.dialect.name
        self._ready = False
        self._reads: dict[object, tuple[str | None, sqlite3.Connection]] = {}  # (tag, connection)
        self._interrupts: dict[str | None, int] = {}  # interrupt_reads calls by tag

    # -- plumbing ---------------------------------------------------------------------------

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite) that also bumps the change marker.

        Raise :class:`Rollback` inside to end it without writing anything."""
        await self.ensure_schema()
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(sqlite_immediate=True)
            trans = await conn.begin()
            try:
                yield conn
                await conn.execute(
                    update(schema.change_marker)
                    .where(schema.change_marker.c.id == 1)
                    .values(seq=schema.change_marker.c.seq + 1)
                )
            except BaseException:
                await trans.rollback()
                raise
            await trans.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One read transaction. On SQLite its statements can be stopped from the event loop
        (:meth:`interrupt_reads`): a superseded million-row count then ends at once instead of
        holding its connection and a core while the query that replaced it runs.

        Do not cancel the task awaiting a long SQLite read to stop it: aiosqlite finishes the
        statement in its thread anyway, and SQLAlchemy then tears the connection down (its
        close waits for the statement). Interrupt it instead."""
        tag = READ_TAG.get()
        epoch = self._epoch(tag)  # interrupted while waiting for a connection: still stopped
        await self.ensure_schema()
        async with self.engine.connect() as conn:
            raw = sqlite_connection(conn)
            key = object()
            if raw is not None:
                self._reads[key] = (tag, raw)
                if self._epoch(tag) != epoch:  # sqlite3 ignores interrupt() between statements
                    self._reads.pop(key, None)
                    raise interrupted_error()
            try:
                async with conn.begin():
                    yield conn
            finally:
                self._reads.pop(key, None)

    def _epoch(self, tag: str | None) -> tuple[int, int]:
        """Changes whenever reads under ``tag`` are interrupted (by tag or all at once)."""
        return self._interrupts.get(None, 0), self._interrupts.get(tag, 0)

    def interrupt_reads(self, tag: str | None = None) -> int:
        """Interrupt the running SQLite read statements started under ``READ_TAG`` = ``tag``
        (all when None); each fails with OperationalError('interrupted'). Writes are never
        touched. Returns how many connections were signalled (0 on PostgreSQL)."""
        self._interrupts[tag] = self._interrupts.get(tag, 0) + 1
        hit = [raw for t, raw in list(self._reads.values()) if tag is None or t == tag]
        for raw in hit:
            interrupt(raw)
        return len(hit)

    def schema_is_current(self) -> None:
        """The caller checked that the database has this version's schema (the app's start,
        with ``sqlite_direct.open_existing``): the first read skips :meth:`ensure_schema`."""
        self._ready = True

    async def ensure_schema(self) -> None:
        """Create the schema on first use; refuse a newer one; run migrations for older ones."""
        if self._ready:
            return
        async with self.engine.connect() as conn:
            version = await schema_version(conn)
        if version is None:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    await conn.run_sync(schema.metadata_obj.create_all)
                    if await schema_version(conn) is None:
                        await conn.execute(insert(schema.schema_info).values(
                            key="schema_version", value=str(SCHEMA_VERSION)))
                        await conn.execute(insert(schema.change_marker).values(id=1, seq=0))
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema v{version} is newer than this labtasker-tui (v{SCHEMA_VERSION});"
                " upgrade labtasker-tui"
            )
        elif version < SCHEMA_VERSION:
            from .migrations import migrate

            async with self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    await migrate(conn, version)
        self._ready = True

    def scope(self, sel: Selection | None, *, scan: bool = False) -> ColumnElement[bool]:
        """The selection within this queue. ``scan``: the caller reads every match, so on
        SQLite a filter is evaluated over a table scan rather than through the queue index
        (which SQLite otherwise picks, paying one row lookup per task: twice as slow)."""
        queue_col: Any = tasks.c.queue
        if (scan and self.dialect == "sqlite" and sel is not None and sel.where is not None
                and sel.ids is None):
            queue_col = tasks.c.queue.concat("")  # not indexable: a plain scan
        conds: builtins.list[ColumnElement[bool]] = [queue_col == self.queue]
        if sel is not None:
            if sel.ids is not None:
                conds.append(self.ids_in(tasks.c.task_id, sel.ids))
            conds += selector_conds(sel)
        return and_(*conds)

    def ids_in(self, col: Any, ids: Iterable[str]) -> ColumnElement[bool]:
        """``col IN ids`` as one bound JSON array beyond a few ids (``json_each`` /
        ``jsonb_array_elements_text``): 100,000 ids are one parameter, not 100,000."""
        ids = list(ids)
        if len(ids) <= SMALL_IN:
            return col.in_(ids)  # type: ignore[no-any-return]  # col is any column
        if self.dialect == "sqlite":
            je = func.json_each(literal(json.dumps(ids), Text)).table_valued("value")
        else:
            je = func.jsonb_array_elements_text(
                cast(literal(json.dumps(ids), Text), JSONB)).table_valued("value")
        return col.in_(select(je.c.value))  # type: ignore[no-any-return]

    def order_clause(self, sort: Sequence[tuple[str, bool]] = ()) -> builtins.list[Any]:
        """Fetch order by default (spec §3.4), else the given (path, descending) keys;
        created_at and task_id are always the final tie-breakers."""
        if sort and all(path in tasks.c and path not in JSON_FIELDS for path, _ in sort):
            cols = [tasks.c[p].desc().nulls_last() if desc else tasks.c[p].asc().nulls_first()
                    for p, desc in sort]
            return cols + [tasks.c[p].desc() if desc else tasks.c[p].asc()
                           for p, desc in TIE_BREAKERS]
        if sort:
            from ..query.sql import order_by

            return list(order_by(list(sort), self.dialect))
        return [tasks.c[p].desc() if desc else tasks.c[p].asc() for p, desc in DEFAULT_ORDER]

