"""TaskStore: the single door to the database. Every public write is one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..lifecycle import (
    STATUSES,
    check_transition,
)
from .rows import (
    TASK_FIELDS,
    import_row,
    new_task_row,
    sqlite_params,
    validate_fields,
    validation_message,
)

if TYPE_CHECKING:
    from ..models import Task
from . import schema
from .errors import ConflictError, NotFoundError, StoreError, UserError
from .schema import SCHEMA_VERSION, tasks, utcnow

ID_CHUNK = 500
INSERT_CHUNK = 5000

JSON_COLUMNS = frozenset({"args", "metadata", "summary", "cmd"})
TASK_COLUMNS = [c for c in tasks.c if c.name != "queue"] + [tasks.c.queue]


def row_to_task(row: Any) -> Task:
    from ..models import Task  # pydantic loads only when whole tasks are read

    m = row._mapping
    return Task.model_construct(
        task_id=m["task_id"],
        queue_id=m["queue"],
        status=m["status"],
        task_name=m["task_name"],
        created_at=m["created_at"],
        start_time=m["start_time"],
        last_heartbeat=m["last_heartbeat"],
        last_modified=m["last_modified"],
        heartbeat_timeout=m["heartbeat_timeout"],
        task_timeout=m["task_timeout"],
        max_retries=m["max_retries"],
        retries=m["retries"],
        priority=m["priority"],
        metadata=m["metadata"],
        args=m["args"],
        cmd=m["cmd"],
        summary=m["summary"],
        worker_id=m["worker_id"],
        version=m["version"],
    )


@dataclass
class Selection:
    """Which tasks a command acts on: selectors AND-ed with a compiled filter condition."""

    ids: Sequence[str] | None = None
    name: str | None = None
    status: str | None = None
    where: ColumnElement[bool] | None = None

    @property
    def empty(self) -> bool:
        return self.ids is None and self.name is None and self.status is None and self.where is None


@dataclass
class TaskChange:
    before: Task
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _inline(n: int) -> Any:
    """LIMIT/OFFSET rendered into the SQL text: SQLite uses its top-N sorter only for a
    constant LIMIT (a bound one made a sorted page of 1M rows three times slower)."""
    return bindparam(None, int(n), literal_execute=True)


class Rollback(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside :meth:`TaskStore.write` to discard the transaction and return ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


class TaskStore:
    """Async access to tasks of one queue. Create with :func:`open_store`."""

    def __init__(self, engine: AsyncEngine, queue: str = "default") -> None:
        self.engine = engine
        self.queue = queue
        self.dialect = engine.dialect.name
        self._ready = False

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
        await self.ensure_schema()
        async with self.engine.connect() as conn:
            async with conn.begin():
                yield conn

    async def ensure_schema(self) -> None:
        """Create the schema on first use; refuse a newer one; run migrations for older ones."""
        if self._ready:
            return
        async with self.engine.connect() as conn:
            version = await _schema_version(conn)
        if version is None:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    await conn.run_sync(schema.metadata_obj.create_all)
                    if await _schema_version(conn) is None:
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

    def _scope(self, sel: Selection | None, *, scan: bool = False) -> ColumnElement[bool]:
        """The selection within this queue. ``scan``: the caller reads every match, so on
        SQLite a filter is evaluated over a table scan rather than through the queue index
        (which SQLite otherwise picks, paying one row lookup per task: twice as slow)."""
        queue_col: Any = tasks.c.queue
        if (scan and self.dialect == "sqlite" and sel is not None and sel.where is not None
                and sel.ids is None):
            queue_col = tasks.c.queue.concat("")  # not indexable: a plain scan
        conds: list[ColumnElement[bool]] = [queue_col == self.queue]
        if sel is not None:
            if sel.ids is not None:
                conds.append(tasks.c.task_id.in_(list(sel.ids)))
            if sel.name is not None:
                conds.append(tasks.c.task_name == sel.name)
            if sel.status is not None:
                conds.append(tasks.c.status == sel.status)
            if sel.where is not None:
                conds.append(sel.where)
        return and_(*conds)

    def order_clause(self, sort: Sequence[tuple[str, bool]] = ()) -> list[Any]:
        """Fetch order by default (spec §3.4), else the given (path, descending) keys;
        created_at and task_id are always the final tie-breakers."""
        if sort and all(path in tasks.c and path not in JSON_COLUMNS for path, _ in sort):
            cols = [tasks.c[p].desc().nulls_last() if desc else tasks.c[p].asc().nulls_first()
                    for p, desc in sort]
            return cols + [tasks.c.created_at.asc(), tasks.c.task_id.asc()]
        if sort:
            from ..query.sql import order_by

            return order_by(list(sort), self.dialect)
        return [tasks.c.priority.desc(), tasks.c.last_modified.asc(),
                tasks.c.created_at.asc(), tasks.c.task_id.asc()]

    # -- reads ------------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task | None:
        async with self.read() as conn:
            row = (await conn.execute(
                select(*TASK_COLUMNS).where(self._scope(Selection(ids=[task_id])))
            )).first()
        return row_to_task(row) if row else None

    async def list(
        self,
        sel: Selection | None = None,
        *,
        sort: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Task]:
        return [t async for t in self.iter(sel, sort=sort, limit=limit, offset=offset)]

    def keyset_keys(self, sort: Sequence[tuple[str, bool]] = ()) -> list[tuple[Any, bool]] | None:
        """(column, descending) of the full order when every key is a NOT NULL column, so a
        page can start after a row by comparing keys (keyset) instead of counting (OFFSET)."""
        if not sort:
            keys = [("priority", True), ("last_modified", False), ("created_at", False)]
        else:
            keys = list(sort)
        for name, _ in keys:
            if name not in tasks.c or name in JSON_COLUMNS or tasks.c[name].nullable:
                return None
        keys += [("created_at", False), ("task_id", False)]
        return [(tasks.c[name], desc) for name, desc in keys]

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
    ) -> list[Task]:
        """One page in order: the first (``offset``), the one after or before a task (keyset
        when the order allows it, else ``offset`` must locate it), or the ``last`` one."""
        keys = self.keyset_keys(sort)
        if keys is None or (after is None and before is None and not last):
            return await self.list(sel, sort=sort, limit=limit, offset=offset)
        reverse = before is not None or last
        order = [(c.asc() if desc else c.desc()) if reverse else (c.desc() if desc else c.asc())
                 for c, desc in keys]
        base = select(*TASK_COLUMNS).where(self._scope(sel)).order_by(*order)
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
        rows: list[Task] = []
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
    ) -> AsyncIterator[Any]:
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
    ) -> AsyncIterator[list[Any]]:
        """Like :meth:`iter`, a list per batch: one await per batch, not per row."""
        cols = [tasks.c.task_id] if ids_only else TASK_COLUMNS
        stmt = (select(*cols).where(self._scope(sel, scan=not limit))
                .order_by(*self.order_clause(sort)))
        if limit:
            stmt = stmt.limit(_inline(limit))
        if offset:
            stmt = stmt.offset(_inline(offset))
        async with self.read() as conn:
            result = await conn.stream(stmt.execution_options(yield_per=batch))
            async for rows in result.partitions(batch):
                yield [r[0] for r in rows] if ids_only else [row_to_task(r) for r in rows]

    async def count(self, sel: Selection | None = None) -> int:
        async with self.read() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(tasks).where(self._scope(sel, scan=True))
            )).scalar_one())

    async def count_by_status(self, sel: Selection | None = None) -> dict[str, int]:
        async with self.read() as conn:
            rows = (await conn.execute(
                select(tasks.c.status, func.count())
                .where(self._scope(sel, scan=True))
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
        ids = list(ids)
        found: set[str] = set()
        async with self.read() as conn:
            for i in range(0, len(ids), ID_CHUNK):
                chunk = ids[i:i + ID_CHUNK]
                rows = await conn.execute(
                    select(tasks.c.task_id).where(self._scope(Selection(ids=chunk))))
                found.update(r[0] for r in rows)
        return found

    # -- writes -----------------------------------------------------------------------------

    async def submit(self, specs: Sequence[dict[str, Any]]) -> list[str]:
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
        self, records: Iterable[dict[str, Any]], *, replace: bool = False
    ) -> tuple[int, int]:
        """Insert full records, keeping ids, status, timestamps and summary.

        Returns (inserted, replaced). An existing id is an error unless ``replace``."""
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
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(x for x in ids if x in seen or seen.add(x))
            raise UserError(f"task id {dup} appears twice in the input")
        replaced = 0
        async with self.write() as conn:
            for i in range(0, len(ids), ID_CHUNK):
                chunk = ids[i:i + ID_CHUNK]
                existing = [r[0] for r in await conn.execute(
                    select(tasks.c.task_id).where(tasks.c.task_id.in_(chunk)))]
                if existing and not replace:
                    raise UserError(
                        f"task {existing[0]} already exists ({len(existing)} in this batch);"
                        " use --replace to overwrite")
                if existing:
                    await conn.execute(delete(tasks).where(tasks.c.task_id.in_(existing)))
                    replaced += len(existing)
            await self._insert_rows(conn, rows)
        return len(rows) - replaced, replaced

    async def _insert_rows(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
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
    ) -> list[TaskChange]:
        """Apply ``compute(task) -> changed fields`` to every selected task, all or nothing.

        Values are validated, status changes obey the state machine, and each row is written
        only if its version is unchanged. With ``expected_versions`` (the editor), a task whose
        version moved since it was read raises ConflictError."""
        if sel.empty:
            raise UserError("no tasks selected: give --id, --name, --status, -f or ids on stdin")
        try:
            return await self._update(sel, compute, reset_pending, dry_run, limit,
                                      expected_versions)
        except Rollback as rb:
            return rb.value

    async def _update(self, sel: Selection, compute: Callable[[Task], dict[str, Any]],
                      reset_pending: bool, dry_run: bool, limit: int | None,
                      expected_versions: dict[str, int] | None) -> list[TaskChange]:
        async with self.write() as conn:
            stmt = (select(*TASK_COLUMNS).where(self._scope(sel, scan=not limit))
                    .order_by(*self.order_clause()))
            if limit:
                stmt = stmt.limit(_inline(limit))
            current = [row_to_task(r) for r in await conn.execute(stmt)]
            if sel.ids is not None:
                missing = set(sel.ids) - {t.task_id for t in current}
                if missing:
                    raise NotFoundError(f"task not found: {sorted(missing)[0]}"
                                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                           else ""))
            plan: list[TaskChange] = []
            for task in current:
                if expected_versions is not None:
                    want = expected_versions.get(task.task_id)
                    if want is not None and want != task.version:
                        raise ConflictError(
                            f"task {task.task_id} was changed by someone else since you opened"
                            " it; reload to see the new version")
                plan.append(TaskChange(task, self._prepare(task, compute(task), reset_pending)))
            if dry_run:
                raise Rollback(plan)
            now = utcnow()
            for change in plan:
                if not change.changed:
                    continue
                res = await conn.execute(
                    update(tasks)
                    .where(tasks.c.task_id == change.before.task_id,
                           tasks.c.version == change.before.version)
                    .values(**change.changes, last_modified=now, version=tasks.c.version + 1)
                )
                if res.rowcount != 1:
                    raise ConflictError(
                        f"task {change.before.task_id} changed while updating; nothing was saved")
        return plan

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

    async def delete(self, sel: Selection, *, dry_run: bool = False) -> list[str]:
        """Delete the selected tasks in one transaction; returns the deleted ids."""
        if sel.empty:
            raise UserError("no tasks selected")
        try:
            return await self._delete(sel, dry_run)
        except Rollback as rb:
            return rb.value

    async def _delete(self, sel: Selection, dry_run: bool) -> list[str]:
        async with self.write() as conn:
            scope = self._scope(sel, scan=True)
            ids = [r[0] for r in await conn.execute(select(tasks.c.task_id).where(scope))]
            if dry_run:
                raise Rollback(ids)
            if ids:
                await conn.execute(delete(tasks).where(scope))
        return ids

    async def delete_ids(self, ids: Sequence[str], *, dry_run: bool = False
                         ) -> tuple[list[str], list[str]]:
        """Delete by id, validating them all first: returns (deleted, not_found)."""
        try:
            return await self._delete_ids(list(dict.fromkeys(ids)), dry_run)
        except Rollback as rb:
            return rb.value

    async def _delete_ids(self, ids: list[str], dry_run: bool) -> tuple[list[str], list[str]]:
        async with self.write() as conn:
            found: set[str] = set()
            for i in range(0, len(ids), ID_CHUNK):
                chunk = ids[i:i + ID_CHUNK]
                found.update(r[0] for r in await conn.execute(
                    select(tasks.c.task_id).where(self._scope(Selection(ids=chunk)))))
            deleted = [x for x in ids if x in found]
            missing = [x for x in ids if x not in found]
            if dry_run:
                raise Rollback((deleted, missing))
            for i in range(0, len(deleted), ID_CHUNK):
                await conn.execute(delete(tasks).where(tasks.c.task_id.in_(
                    deleted[i:i + ID_CHUNK])))
        return deleted, missing


async def _schema_version(conn: AsyncConnection) -> int | None:
    def probe(sync_conn) -> int | None:
        from sqlalchemy import inspect

        if not inspect(sync_conn).has_table("schema_info"):
            return None
        value = sync_conn.execute(
            select(schema.schema_info.c.value).where(schema.schema_info.c.key == "schema_version")
        ).scalar()
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise StoreError(f"the database's schema_info.schema_version is {value!r}, not a"
                             " version number: this is not a labtasker-tui database, or it was"
                             " damaged") from None

    return await conn.run_sync(probe)


def open_store(url: str, queue: str = "default", *, echo: bool = False) -> TaskStore:
    from .engine import create_engine
    from .location import normalise_url

    return TaskStore(create_engine(normalise_url(url), echo=echo), queue)


__all__ = ["Selection", "TaskChange", "TaskStore", "open_store", "true", "text"]
