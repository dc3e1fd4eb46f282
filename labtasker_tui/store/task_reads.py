"""The reads of :class:`~.task_store.TaskStore`: one task, a page (OFFSET or keyset), a stream
in chunked short transactions, counts, and the selection a write acts on."""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, func, select

from .. import schema
from ..fields import COLUMN_ALIASES, FETCH_ORDER, JSON_FIELDS, TIE_BREAKERS
from ..lifecycle import STATUSES
from ..schema import tasks
from .rows import row_to_task
from .selection import Selection, selector_conds
from .store_core import TASK_COLUMNS, StoreCore

if TYPE_CHECKING:
    from ..models import Task


def _inline(n: int) -> BindParameter[int]:
    """LIMIT/OFFSET rendered into the SQL text: SQLite uses its top-N sorter only for a
    constant LIMIT (a bound one made a sorted page of 1M rows three times slower)."""
    return bindparam(None, int(n), literal_execute=True)


class TaskReads(StoreCore):
    """Reads of tasks, each in its own read transaction (interruptible on SQLite)."""

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
            if name not in tasks.c or name in JSON_FIELDS or tasks.c[name].nullable:
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
            values = [getattr(anchor, COLUMN_ALIASES.get(c.name, c.name))
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
            async with aclosing(self.keyset_ids(sel, keys, limit, offset)) as pages:
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

    async def keyset_ids(self, sel: Selection | None, keys: builtins.list[tuple[Any, bool]],
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

