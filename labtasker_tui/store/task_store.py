"""TaskStore: the single door to the database. Every public write is one transaction."""

from __future__ import annotations

import asyncio
import builtins
import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..lifecycle import (
    STATUSES,
    check_transition,
)
from .rows import (
    TASK_FIELDS,
    import_row,
    new_task_row,
    row_to_task,
    sqlite_params,
    validate_fields,
    validation_message,
)

if TYPE_CHECKING:
    import sqlite3

    from ..models import Task
from .. import schema
from ..errors import ConflictError, StoreError, UserError
from ..fields import FETCH_ORDER, JSON_FIELDS, TIE_BREAKERS
from ..schema import tasks, utcnow
from ..settings import SCHEMA_VERSION
from . import journal
from .migrations import schema_version
from .read_interrupts import interrupt, interrupted_error, sqlite_connection
from .selection import (
    Selection,
    SelectionChanged,
    TaskChange,
    check_found,
    check_not_running,
    check_shown,
    selector_conds,
)

ID_CHUNK = 500
#: Up to this many ids are bound one by one; more go as one JSON array parameter.
SMALL_IN = 50
INSERT_CHUNK = 5000

JSON_COLUMNS = frozenset(JSON_FIELDS)
#: The default order (fetch order, then the tie-breakers), as (column name, descending).
DEFAULT_ORDER: tuple[tuple[str, bool], ...] = FETCH_ORDER + TIE_BREAKERS
TASK_COLUMNS = [c for c in tasks.c if c.name != "queue"] + [tasks.c.queue]


def _inline(n: int) -> BindParameter[int]:
    """LIMIT/OFFSET rendered into the SQL text: SQLite uses its top-N sorter only for a
    constant LIMIT (a bound one made a sorted page of 1M rows three times slower)."""
    return bindparam(None, int(n), literal_execute=True)


class Rollback(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside :meth:`TaskStore.write` to discard the transaction and return ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


#: Tags the reads of the current task so that :meth:`TaskStore.interrupt_reads` can stop them.
READ_TAG: ContextVar[str | None] = ContextVar("labtasker_read_tag", default=None)


class TaskStore:
    """Async access to tasks of one queue. Create with :func:`open_store`."""

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
        if sort and all(path in tasks.c and path not in JSON_COLUMNS for path, _ in sort):
            cols = [tasks.c[p].desc().nulls_last() if desc else tasks.c[p].asc().nulls_first()
                    for p, desc in sort]
            return cols + [tasks.c[p].desc() if desc else tasks.c[p].asc()
                           for p, desc in TIE_BREAKERS]
        if sort:
            from ..query.sql import order_by

            return list(order_by(list(sort), self.dialect))
        return [tasks.c[p].desc() if desc else tasks.c[p].asc() for p, desc in DEFAULT_ORDER]

    # -- reads ------------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task | None:
        async with self.read() as conn:
            row = (await conn.execute(
                select(*TASK_COLUMNS).where(self.scope(Selection(ids=[task_id])))
            )).first()
        return row_to_task(row) if row else None

    async def list(
        self,
        sel: Selection | None = None,
        *,
        sort: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[Task]:
        return [t async for t in self.iter(sel, sort=sort, limit=limit, offset=offset)]

    async def window(self, sel: Selection | None = None, *,
                     sort: Sequence[tuple[str, bool]] = (), limit: int = 200,
                     offset: int = 0) -> tuple[int, builtins.list[Task]]:
        """The change marker and one page of tasks read in one transaction: the marker
        matches the rows (a live view polls it), and a screen's first window costs one
        round of statements instead of three (each await may wait behind a repaint)."""
        stmt = (select(*TASK_COLUMNS).where(self.scope(sel))
                .order_by(*self.order_clause(sort)).limit(_inline(limit)))
        if offset:
            stmt = stmt.offset(_inline(offset))
        async with self.read() as conn:
            seq = int((await conn.execute(select(schema.change_marker.c.seq))).scalar() or 0)
            rows = [row_to_task(r) for r in await conn.execute(stmt)]
        return seq, rows

    def keyset_keys(self, sort: Sequence[tuple[str, bool]] = ()
                    ) -> builtins.list[tuple[Any, bool]] | None:
        """(column, descending) of the full order when every key is a NOT NULL column, so a
        page can start after a row by comparing keys (keyset) instead of counting (OFFSET)."""
        keys = list(sort or FETCH_ORDER)
        for name, _ in keys:
            if name not in tasks.c or name in JSON_COLUMNS or tasks.c[name].nullable:
                return None
        keys += TIE_BREAKERS
        # a column once (its first direction): a repeated one made SQLite sort each range
        first: dict[str, bool] = {}  # name -> direction, in order
        for name, desc in keys:
            first.setdefault(name, desc)
        return [(tasks.c[name], desc) for name, desc in first.items()]

    async def page(
        self,
        sel: Selection | None = None,
        *,
        sort: Sequence[tuple[str, bool]] = (),
        limit: int = 200,
        after: Task | None = None,
        before: Task | None = None,
        last: bool = False,
        offset: int = 0,
    ) -> builtins.list[Task]:
        """One page in order: the first (``offset``), the one after or before a task (keyset
        when the order allows it, else ``offset`` must locate it), or the ``last`` one."""
        keys = self.keyset_keys(sort)
        if keys is None or (after is None and before is None and not last):
            return await self.list(sel, sort=sort, limit=limit, offset=offset)
        reverse = before is not None or last
        order = [(c.asc() if desc else c.desc()) if reverse else (c.desc() if desc else c.asc())
                 for c, desc in keys]
        base = select(*TASK_COLUMNS).where(self.scope(sel)).order_by(*order)
        anchor = after or before
        if anchor is None:
            stmts = [base]
        else:
            # one index range per key, nearest first: rows sharing k1..k(i-1) with the anchor
            # and beyond it on ki. Concatenated they are the order; each is an index range.
            values = [getattr(anchor, "queue_id" if c.name == "queue" else c.name)
                      for c, _ in keys]
            stmts = []
            for i in range(len(keys) - 1, -1, -1):
                col, desc = keys[i]
                later = desc == (before is not None)
                step = col > values[i] if later else col < values[i]
                eq = [c == v for (c, _), v in zip(keys[:i], values[:i], strict=True)]
                stmts.append(base.where(*eq, step))
        rows: builtins.list[Task] = []
        async with self.read() as conn:
            for stmt in stmts:
                need = limit - len(rows)
                if need <= 0:
                    break
                rows += [row_to_task(r) for r in await conn.execute(stmt.limit(_inline(need)))]
        return rows[::-1] if reverse else rows

    async def iter(
        self,
        sel: Selection | None = None,
        *,
        sort: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
        ids_only: bool = False,
        batch: int = 1000,
    ) -> AsyncGenerator[Any, None]:
        """Stream matching tasks (or ids) in order; memory stays flat whatever the count."""
        async with aclosing(self.iter_batches(sel, sort=sort, limit=limit, offset=offset,
                                              ids_only=ids_only, batch=batch)) as batches:
            async for items in batches:
                for item in items:
                    yield item

    async def iter_batches(
        self,
        sel: Selection | None = None,
        *,
        sort: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
        ids_only: bool = False,
        batch: int = 1000,
    ) -> AsyncGenerator[builtins.list[Any], None]:
        """Like :meth:`iter`, a list per batch: one await per batch, not per row.

        No transaction stays open while the caller handles a batch (a slow reader would hit
        PostgreSQL's idle_in_transaction_session_timeout): the ordered ids are read in one short
        transaction, then the tasks in chunks by id, each chunk in its own short transaction,
        handed out after it ended. A task therefore appears at most once; one deleted (or no
        longer matching) before its chunk is read is skipped; one submitted after the first
        read is not listed. Ids alone, unfiltered, in fetch order (an index): keyset pages,
        each its own short transaction (memory stays flat)."""
        keys = self.keyset_keys(sort)
        if ids_only and not sort and keys is not None and (sel is None or sel.where is None):
            async with aclosing(self._keyset_ids(sel, keys, limit, offset)) as pages:
                async for ids in pages:
                    yield ids
            return
        stmt = (select(tasks.c.task_id).where(self.scope(sel, scan=not limit))
                .order_by(*self.order_clause(sort)))
        if limit:
            stmt = stmt.limit(_inline(limit))
        if offset:
            stmt = stmt.offset(_inline(offset))
        # ids kept as one string per chunk: ~37 bytes a task instead of ~90 for a str object
        chunks: deque[str | builtins.list[str]] = deque()
        async with self.read() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=batch))
            async for rows in result.partitions(batch):
                part = [r[0] for r in rows]
                joined = "\n".join(part)
                chunks.append(joined if joined.count("\n") == len(part) - 1 else part)
        again = self._by_ids_scope(sel)
        while chunks:
            chunk = chunks.popleft()
            ids = chunk.split("\n") if isinstance(chunk, str) else chunk
            if ids_only:
                yield ids
                continue
            async with self.read() as conn:
                found = {r._mapping["task_id"]: r for r in await conn.execute(
                    select(*TASK_COLUMNS).where(again, tasks.c.task_id.in_(ids)))}
            yield [row_to_task(found[i]) for i in ids if i in found]

    async def _keyset_ids(self, sel: Selection | None, keys: builtins.list[tuple[Any, bool]],
                          limit: int | None, offset: int, page: int = 20_000
                          ) -> AsyncGenerator[builtins.list[str], None]:
        """Ids in ``keys`` order, a page per short read transaction, each page starting after
        the last row of the one before (one index range per key, as :meth:`page` does)."""
        cols = [c for c, _ in keys]
        base = (select(tasks.c.task_id).where(self.scope(sel))
                .order_by(*[c.desc() if desc else c.asc() for c, desc in keys]))
        left = limit or None
        last: Any = None
        while left is None or left > 0:
            size = page if left is None else min(page, left)
            if last is None:
                stmts = [base.offset(_inline(offset)) if offset else base]
            else:
                values = dict(zip([c.name for c in cols], last, strict=True))
                stmts = []
                for i in range(len(keys) - 1, -1, -1):
                    col, desc = keys[i]
                    step = col < values[col.name] if desc else col > values[col.name]
                    stmts.append(base.where(*[c == values[c.name] for c, _ in keys[:i]], step))
            ids: builtins.list[str] = []
            async with self.read() as conn:
                for stmt in stmts:
                    if len(ids) >= size:
                        break
                    ids += (await conn.execute(stmt.limit(_inline(size - len(ids))))).scalars()
                if len(ids) == size:  # the anchor's keys: only the last row's are needed
                    last = (await conn.execute(
                        select(*cols).where(tasks.c.task_id == ids[-1]))).one()
            if not ids:
                return
            yield ids
            if len(ids) < size:
                return
            if left is not None:
                left -= len(ids)

    def _by_ids_scope(self, sel: Selection | None) -> ColumnElement[bool]:
        """The selection re-checked on rows fetched by id: the chunk's ids are a subset of
        ``sel.ids`` (not sent again), and the queue is compared unindexed so that the planner
        looks the ids up by primary key instead of scanning the queue index."""
        conds: builtins.list[ColumnElement[bool]] = [tasks.c.queue.concat("") == self.queue]
        if sel is not None:
            conds += selector_conds(sel)
        return and_(*conds)

    async def count(self, sel: Selection | None = None) -> int:
        async with self.read() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(tasks).where(self.scope(sel, scan=True))
            )).scalar_one())

    async def count_by_status(self, sel: Selection | None = None) -> dict[str, int]:
        async with self.read() as conn:
            rows = (await conn.execute(
                select(tasks.c.status, func.count())
                .where(self.scope(sel, scan=True))
                .group_by(tasks.c.status)
            )).all()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    async def change_seq(self) -> int:
        """A cheap marker that changes on every write (for live views)."""
        async with self.read() as conn:
            return int((await conn.execute(select(schema.change_marker.c.seq))).scalar() or 0)

    async def existing_ids(self, ids: Iterable[str]) -> set[str]:
        async with self.read() as conn:
            rows = await conn.execute(select(tasks.c.task_id).where(
                self.scope(Selection(ids=list(ids)))))
            return {r[0] for r in rows}

    # -- writes -----------------------------------------------------------------------------

    async def submit(self, specs: Sequence[dict[str, Any]]) -> builtins.list[str]:
        """Insert new pending tasks in one transaction; all or nothing."""
        now = utcnow()
        rows = []
        for i, spec in enumerate(specs):
            try:
                rows.append(new_task_row(spec, self.queue, now))
            except UserError as exc:
                where = f"task {i + 1}: " if len(specs) > 1 else ""
                raise UserError(f"{where}{exc}") from None
        async with self.write() as conn:
            await self._insert_rows(conn, rows)
        return [r["task_id"] for r in rows]

    async def import_records(
        self, records: Iterable[dict[str, Any]], *, replace: bool = False,
        journaled: bool = True,
    ) -> tuple[int, int]:
        """Insert full records, keeping ids, status, timestamps and summary.

        Returns (inserted, replaced). An existing id is an error unless ``replace``.
        ``journaled``: one journal entry (undo deletes the new tasks and restores the
        replaced ones)."""
        now = utcnow()
        rows = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise UserError(f"record {i + 1}: expected a JSON object")
            try:
                rows.append(import_row(rec, self.queue, now))
            except UserError as exc:
                raise UserError(f"record {i + 1}: {exc}") from None
        ids = [r["task_id"] for r in rows]
        seen: set[str] = set()
        for x in ids:
            if x in seen:
                raise UserError(f"task id {x} appears twice in the input")
            seen.add(x)
        replaced = 0
        journaled = journaled and journal.enabled()
        images: dict[str, str] = {}
        async with self.write() as conn:
            for i in range(0, len(ids), ID_CHUNK):
                chunk = ids[i:i + ID_CHUNK]
                cols = TASK_COLUMNS if journaled else [tasks.c.task_id]
                found = (await conn.execute(
                    select(*cols).where(tasks.c.task_id.in_(chunk)))).all()
                existing = [r._mapping["task_id"] for r in found]
                if existing and not replace:
                    raise UserError(
                        f"task {existing[0]} already exists ({len(existing)} in this batch);"
                        " use --replace to overwrite")
                if existing:
                    if journaled:
                        images.update((r._mapping["task_id"], journal.image_of_row(r._mapping))
                                      for r in found)
                    await conn.execute(delete(tasks).where(tasks.c.task_id.in_(existing)))
                    replaced += len(existing)
            await self._insert_rows(conn, rows)
            if journaled:
                extra = f", {replaced:,} replaced" if replaced else ""
                await journal.record(
                    conn, self, "import", f"import {len(rows):,} task{'s' * (len(rows) != 1)}"
                    f"{extra}", [(r["task_id"], images.get(r["task_id"]), r["version"])
                                 for r in rows])
        return len(rows) - replaced, replaced

    async def _insert_rows(self, conn: AsyncConnection,
                           rows: builtins.list[dict[str, Any]]) -> None:
        """Bulk insert. On SQLite, values are serialised here and sent through the driver's
        executemany: SQLAlchemy's per-value bind processing costs half the import time."""
        if self.dialect != "sqlite":
            for i in range(0, len(rows), INSERT_CHUNK):
                await conn.execute(insert(tasks), rows[i:i + INSERT_CHUNK])
            return
        if len(rows) > INSERT_CHUNK:  # a bulk load touches 4 B-trees: a larger page cache
            await conn.exec_driver_sql("PRAGMA cache_size=-65536")
        sql = (f"INSERT INTO tasks ({', '.join(TASK_FIELDS)}) "
               f"VALUES ({', '.join('?' * len(TASK_FIELDS))})")
        params = sqlite_params

        # pipeline: serialise the next chunk while SQLite (in aiosqlite's thread, GIL released)
        # writes the previous one
        pending: asyncio.Task[Any] | None = None
        for i in range(0, len(rows), INSERT_CHUNK):
            batch = params(rows[i:i + INSERT_CHUNK])
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(conn.exec_driver_sql(sql, batch))
            await asyncio.sleep(0)
        if pending is not None:
            await pending

    async def update(
        self,
        sel: Selection,
        compute: Callable[[Task], dict[str, Any]],
        *,
        reset_pending: bool = False,
        dry_run: bool = False,
        limit: int | None = None,
        expected_versions: dict[str, int] | None = None,
    ) -> builtins.list[TaskChange]:
        """Apply ``compute(task) -> changed fields`` to every selected task, all or nothing.

        The selection (filter included) is evaluated in a read transaction, so a slow filter
        never holds the write lock; the changes are then written by id in one short write
        transaction that first checks each task still has the version that was read (else
        ConflictError, nothing written). Values are validated and status changes obey the
        state machine. ``expected_versions`` (the editor): a task whose version moved since it
        was opened raises ConflictError. To apply exactly what a prompt showed, make the plan
        with ``dry_run=True`` and write it with :meth:`apply_update`."""
        if sel.empty:
            raise UserError("no tasks selected: give --id, --name, --status, -f or ids on stdin")
        current = await self.select_tasks(sel, limit=limit)
        if sel.ids is not None:
            check_found(sel.ids, {t.task_id for t in current}, "")
        plan: builtins.list[TaskChange] = []
        for task in current:
            if expected_versions is not None:
                want = expected_versions.get(task.task_id)
                if want is not None and want != task.version:
                    raise ConflictError(
                        f"task {task.task_id} was changed by someone else since you opened"
                        " it; reload to see the new version")
            plan.append(TaskChange(task, self._prepare(task, compute(task), reset_pending)))
        if dry_run:
            return plan
        await self._update(plan, check_all=False,
                           kind="edit" if expected_versions is not None else None)
        return plan

    async def apply_update(self, sel: Selection, plan: builtins.list[TaskChange]
                           ) -> builtins.list[TaskChange]:
        """Write a plan made by ``update(sel, ..., dry_run=True)`` exactly as it was shown.

        The selection is evaluated again (a read) and must still be the plan's tasks at the
        plan's versions; the write checks every version again under the write lock. Else
        SelectionChanged, and nothing is written."""
        state = await self.selection_state(sel)
        check_shown({k: v for k, (v, _) in state.items()},
                     {c.before.task_id: c.before.version for c in plan}, "updated")
        await self._update(plan, check_all=True)
        return plan

    async def select_tasks(self, sel: Selection, *, limit: int | None = None
                           ) -> builtins.list[Task]:
        """The selected tasks in fetch order, read in a read transaction (never under the
        write lock: on SQLite in WAL mode a reader does not block writers)."""
        stmt = (select(*TASK_COLUMNS).where(self.scope(sel, scan=not limit))
                .order_by(*self.order_clause()))
        if limit:
            stmt = stmt.limit(_inline(limit))
        async with self._filter_errors(), self.read() as conn:
            return [row_to_task(r) for r in await conn.execute(stmt)]

    async def selection_state(self, sel: Selection) -> dict[str, tuple[int, str]]:
        """{task id: (version, status)} of the selection, in fetch order (a read)."""
        stmt = (select(tasks.c.task_id, tasks.c.version, tasks.c.status)
                .where(self.scope(sel, scan=True)).order_by(*self.order_clause()))
        async with self._filter_errors(), self.read() as conn:
            return {r[0]: (r[1], r[2]) for r in await conn.execute(stmt)}

    @asynccontextmanager
    async def _filter_errors(self) -> AsyncIterator[None]:
        """A filter function that gave up (a regex over its time bound) -> its FilterError."""
        from sqlalchemy.exc import DBAPIError

        try:
            yield
        except DBAPIError as exc:
            from ..query.sqlite_functions import take_error

            err = take_error(exc)
            if err is None:
                raise
            raise err from None

    async def _update(self, plan: builtins.list[TaskChange], *, check_all: bool,
                      kind: str | None = None) -> None:
        """Write ``plan`` by id in one transaction, after checking the versions it was made
        from (every task when ``check_all``, else the ones that change), with its journal
        entry (the before-image of every task that changes; ``kind``: else from the fields)."""
        todo = [c for c in plan if c.changed]
        check = plan if check_all else todo
        if not check:
            return
        now = utcnow()
        groups: dict[tuple[str, ...], builtins.list[TaskChange]] = {}
        for change in todo:
            groups.setdefault(tuple(sorted(change.changes)), []).append(change)
        async with self.write() as conn:
            await self._verify(conn, {c.before.task_id: c.before.version for c in check},
                               "updated", exact=check_all)
            for keys, changes in groups.items():
                stmt = (update(tasks)
                        .where(tasks.c.task_id == bindparam("b_id"),
                               tasks.c.version == bindparam("b_version"))
                        .values({**{k: bindparam(f"v_{k}", type_=tasks.c[k].type) for k in keys},
                                 "last_modified": now, "version": tasks.c.version + 1}))
                params = [{"b_id": c.before.task_id, "b_version": c.before.version,
                           **{f"v_{k}": c.changes[k] for k in keys}} for c in changes]
                for i in range(0, len(params), INSERT_CHUNK):
                    await conn.execute(stmt, params[i:i + INSERT_CHUNK])
            if todo and journal.enabled():
                auto_kind, summary = journal.describe_update((c.changes for c in todo),
                                                             len(todo))
                if kind == "edit":
                    summary = f"edit {len(todo):,} task{'s' * (len(todo) != 1)}"
                entry = await journal.begin_entry(conn, self, kind or auto_kind, summary,
                                                  len(todo))
                image = journal.image_of_task
                for i in range(0, len(todo), INSERT_CHUNK):
                    await journal.add_items(conn, self, entry, [
                        (c.before.task_id, image(c.before), c.before.version + 1)
                        for c in todo[i:i + INSERT_CHUNK]])

    async def _verify(self, conn: AsyncConnection, expected: dict[str, int], verb: str, *,
                      exact: bool, force: bool = True) -> None:
        """Inside a write: every task in ``expected`` still has that version (locked on
        PostgreSQL until the commit); else SelectionChanged / ConflictError, nothing written."""
        stmt = select(tasks.c.task_id, tasks.c.version, tasks.c.status).where(
            self.scope(Selection(ids=list(expected))))
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        rows = (await conn.execute(stmt)).all()
        now = {r[0]: r[1] for r in rows}
        if now != expected:
            moved = sum(1 for k, v in expected.items() if now.get(k) != v)
            if exact:
                raise SelectionChanged(
                    f"selection changed: {moved} of the {len(expected)} tasks shown changed or"
                    f" were deleted since; nothing {verb}; run again")
            task_id = next(k for k, v in expected.items() if now.get(k) != v)
            raise ConflictError(f"task {task_id} changed while it was being {verb}"
                                f" ({moved} in all); nothing was saved")
        if not force:
            check_not_running([r[2] for r in rows], verb)

    def _prepare(self, task: Task, changes: dict[str, Any], reset_pending: bool) -> dict[str, Any]:
        try:
            values = validate_fields(changes) if changes else {}
        except ValueError as exc:
            raise UserError(f"task {task.task_id}: {validation_message(exc)}") from None
        if reset_pending:
            values.update(status="pending", retries=0, worker_id=None)
        elif "status" in values and values["status"] != task.status:
            try:
                check_transition(task.status, values["status"])
            except ValueError as exc:
                raise UserError(f"task {task.task_id}: {exc}") from None
            if values["status"] == "pending":
                values["worker_id"] = None
        current = task.model_dump()
        return {k: v for k, v in values.items() if current.get(k) != v
                or type(current.get(k)) is not type(v)}

    async def delete(self, sel: Selection, *, dry_run: bool = False, force: bool = False,
                     shown: dict[str, int] | None = None) -> builtins.list[str]:
        """Delete the selected tasks in one transaction; returns the deleted ids.

        The selection is evaluated in a read, then the tasks are deleted by id in one short
        write that checks their versions. Running tasks are refused unless ``force``.
        ``shown`` ({id: version}): the selection must still be exactly that."""
        if sel.empty:
            raise UserError("no tasks selected")
        return await self._delete(sel, dry_run, force, shown)

    async def _delete(self, sel: Selection, dry_run: bool, force: bool,
                      shown: dict[str, int] | None) -> builtins.list[str]:
        state = await self.selection_state(sel)
        if shown is not None:
            check_shown({k: v for k, (v, _) in state.items()}, shown, "deleted")
        if not force:
            check_not_running([st for _, st in state.values()], "deleted")
        ids = list(state)
        if dry_run or not ids:
            return ids
        async with self.write() as conn:
            await self._verify(conn, {k: v for k, (v, _) in state.items()}, "deleted",
                               exact=shown is not None, force=force)
            if journal.enabled():  # the before-images, read under the write lock
                entry = await journal.begin_entry(
                    conn, self, "delete", f"delete {len(ids):,} task{'s' * (len(ids) != 1)}",
                    len(ids))
                for i in range(0, len(ids), INSERT_CHUNK):
                    part = await conn.execute(select(*TASK_COLUMNS).where(
                        self.scope(Selection(ids=ids[i:i + INSERT_CHUNK]))))
                    await journal.add_items(conn, self, entry, [
                        (r._mapping["task_id"], journal.image_of_row(r._mapping), None)
                        for r in part])
            await conn.execute(delete(tasks).where(self.scope(Selection(ids=ids))))
        return ids

    async def delete_ids(self, ids: Sequence[str], *, dry_run: bool = False,
                         force: bool = False, shown: dict[str, int] | None = None
                         ) -> tuple[builtins.list[str], builtins.list[str]]:
        """Delete by id, validating them all first: returns (deleted, not_found)."""
        return await self._delete_ids(list(dict.fromkeys(ids)), dry_run, force, shown)

    async def _delete_ids(self, ids: builtins.list[str], dry_run: bool, force: bool,
                          shown: dict[str, int] | None
                          ) -> tuple[builtins.list[str], builtins.list[str]]:
        if not ids:
            return [], []
        found = await self._delete(Selection(ids=ids), dry_run, force, shown)
        have = set(found)
        return [x for x in ids if x in have], [x for x in ids if x not in have]

    # -- id prefixes (the tables show 8 characters) ---------------------------------------------

    async def resolve_id_prefixes(self, ids: Sequence[str], *, shown: int = 5
                                  ) -> builtins.list[str]:
        """Full task ids for ids or unique id prefixes (:mod:`.id_prefixes`)."""
        from .id_prefixes import resolve_id_prefixes

        return await resolve_id_prefixes(self, ids, shown=shown)


def open_store(url: str, queue: str = "default", *, echo: bool = False,
               create: bool = True) -> TaskStore:
    """``create=False``: refuse a missing SQLite file instead of creating it."""
    from .engine import create_engine
    from .location import normalise_url

    return TaskStore(create_engine(normalise_url(url), echo=echo, create=create), queue)


__all__ = ["READ_TAG", "TASK_COLUMNS", "Selection", "SelectionChanged", "TaskChange", "TaskStore",
           "open_store", "row_to_task", "text", "true"]
